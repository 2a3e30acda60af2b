#!/usr/bin/env bash
# action.yml, install step (cache miss only): builds cmek-arm from the action's
# own source with the versions in its Cargo.lock.
set -euo pipefail
cargo install --locked --path "$GITHUB_ACTION_PATH" --root "$INSTALL_DIR"
