#!/usr/bin/env bash
# action.yml, step `version`: the version to install (the crate version and the
# action's ref, so a moved tag or a new commit gets a new cache entry) and the
# directory it is installed into; that directory's bin/ goes on PATH for the
# later steps.
set -euo pipefail
crate=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1)
if [[ -z $crate ]]; then
  echo "::error::cannot read the version from $GITHUB_ACTION_PATH/Cargo.toml"
  exit 2
fi
ref=${ACTION_REF:-local}
version="$crate-${ref//[^A-Za-z0-9._-]/_}"
dir="${RUNNER_TOOL_CACHE:-$HOME/.cache}/cmek-arm/$version"
{
  echo "version=$version"
  echo "dir=$dir"
} >> "$GITHUB_OUTPUT"
echo "$dir/bin" >> "$GITHUB_PATH"
