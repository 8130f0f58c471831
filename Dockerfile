# syntax=docker/dockerfile:1
# Build: a static-enough release binary on Debian; run: distroless, non-root.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin shipgate

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/shipgate /usr/local/bin/shipgate
COPY policies /etc/shipgate/policies
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/shipgate"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--policies", "/etc/shipgate/policies"]
