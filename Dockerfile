# syntax=docker/dockerfile:1
# Build: a static-enough release binary on Debian; run: distroless, non-root.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin shipgate

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/shipgate /usr/local/bin/shipgate
# No policies are baked in: the repository's examples govern 127.0.0.1:*/** for the tests, and a
# bundled policy that governs loopback or private addresses would let any caller steer the
# service at the pod's own ports. Mount yours at /etc/shipgate/policies (readiness fails
# until there is at least one).
# distroless `nonroot`, by number so that runtimes can check it is not root.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/shipgate"]
# Listening beyond loopback needs caller authentication: mount a configuration with an `auth`
# section (OIDC issuers and/or static token hashes; see README.md, "Caller authentication") at this path, e.g.
#   docker run -v $PWD/config.yaml:/etc/shipgate/config.yaml:ro \
#     -v $PWD/my-policies:/etc/shipgate/policies:ro -p 8080:8080 shipgate
# Without it, or with one that has no `auth`, the service refuses to start (exit 2).
CMD ["serve", "--listen", "0.0.0.0:8080", "--policies", "/etc/shipgate/policies", "--config", "/etc/shipgate/config.yaml"]
