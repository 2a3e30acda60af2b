#!/usr/bin/env bash
# action.yml, last step: fails the job with cmek-arm's exit code (after the
# SARIF upload) and says what it means.
set -euo pipefail
case "${EXIT_CODE:-}" in
  0) echo "cmek-arm: no finding at or above '${FAIL_ON:-error}'" ;;
  1) echo "::error::cmek-arm: findings at or above '${FAIL_ON:-error}' (see the annotations above)" ;;
  2) echo "::error::cmek-arm: usage or input error (see the message above)" ;;
  3) echo "::error::cmek-arm check could not finish: authentication, permission or network (see the message above)" ;;
  "") echo "::error::cmek-arm did not run"; exit 2 ;;
  *) echo "::error::cmek-arm exited ${EXIT_CODE}" ;;
esac
exit "${EXIT_CODE}"
