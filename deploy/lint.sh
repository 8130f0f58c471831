#!/usr/bin/env bash
# Validates the deployment templates with cfn-lint (the CloudFormation linter; it knows the SAM
# transform and expands it before linting). Installs cfn-lint into ./.venv when it is missing
# (the same virtual environment scripts/test.sh creates for moto).
# Usage: ./deploy/lint.sh   (from anywhere). Exit status: cfn-lint's (0 = no errors, no warnings).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
if [ ! -x .venv/bin/cfn-lint ] || ! .venv/bin/cfn-lint --version 2>/dev/null | grep -qF "$CFN_LINT_VERSION"; then
  echo "lint.sh: installing cfn-lint==$CFN_LINT_VERSION into .venv" >&2
  [ -d .venv ] || python3 -m venv .venv
  .venv/bin/pip install -q "cfn-lint==$CFN_LINT_VERSION"
fi
.venv/bin/cfn-lint --version
# Informational findings (I) are printed too; errors (E) and warnings (W) fail the run. No rule is
# disabled. cfn-lint 1.x validates AWS::Serverless::* resources against the SAM schema directly
# (Globals merged in); it does not run the SAM translator.
.venv/bin/cfn-lint --include-checks I --non-zero-exit-code warning -- \
  deploy/sam/template.yaml deploy/ecs/service.yaml
echo "lint.sh: cfn-lint found no errors and no warnings"
