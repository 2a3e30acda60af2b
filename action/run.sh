#!/usr/bin/env bash
# action.yml, step `run`: maps the inputs to cmek-arm's flags and runs it once
# for the job log (`--format github`: annotations) and, with upload-sarif, once
# more for the SARIF file. It never fails the step itself: the exit code goes to
# the `exit-code` output and the last step fails the job with it, after the
# SARIF upload (findings are exactly what code scanning should see).
set -uo pipefail

out() { echo "$1=$2" >> "$GITHUB_OUTPUT"; }
usage_error() {
  echo "::error::$1"
  out exit-code 2
  out upload false
  exit 0
}

args=()
case "${INPUT_COMMAND:-validate}" in
  validate)
    shopt -s globstar nullglob
    files=()
    # One path or glob per line (a line may contain spaces); matches in byte order.
    while IFS= read -r pattern; do
      pattern="${pattern#"${pattern%%[![:space:]]*}"}"
      pattern="${pattern%"${pattern##*[![:space:]]}"}"
      [[ -z $pattern ]] && continue
      matched=()
      while IFS= read -r m; do matched+=("$m"); done < <(compgen -G "$pattern" | LC_ALL=C sort)
      if [[ ${#matched[@]} -eq 0 ]]; then
        usage_error "paths: nothing matches '$pattern'"
      fi
      files+=("${matched[@]}")
    done <<< "${INPUT_PATHS:-}"
    [[ ${#files[@]} -eq 0 ]] && usage_error "paths: no template given"
    args=(validate "${files[@]}")
    [[ -n ${INPUT_PARAMETERS:-} ]] && args+=(--parameters "$INPUT_PARAMETERS")
    ;;
  check)
    [[ -z ${INPUT_SUBSCRIPTION:-} ]] && usage_error "check needs the subscription input"
    [[ -z ${INPUT_RESOURCE_GROUP:-} ]] && usage_error "check needs the resource-group input"
    args=(check --subscription "$INPUT_SUBSCRIPTION" --resource-group "$INPUT_RESOURCE_GROUP" --auth "${INPUT_AUTH:-cli}")
    [[ -n ${INPUT_VAULT:-} ]] && args+=(--vault "$INPUT_VAULT")
    [[ -n ${INPUT_KEY:-} ]] && args+=(--key "$INPUT_KEY")
    [[ -n ${INPUT_FROM_DEPLOYMENT:-} ]] && args+=(--from-deployment "$INPUT_FROM_DEPLOYMENT")
    case "${INPUT_PROBE:-false}" in
      true) args+=(--probe) ;;
      false | "") ;;
      *) usage_error "probe must be true or false, not '$INPUT_PROBE'" ;;
    esac
    ;;
  *)
    usage_error "command must be validate or check, not '$INPUT_COMMAND'"
    ;;
esac

[[ -n ${INPUT_REGION:-} ]] && args+=(--region "$INPUT_REGION")
[[ -n ${INPUT_SP_OBJECT_ID:-} ]] && args+=(--sp-object-id "$INPUT_SP_OBJECT_ID")
[[ -n ${INPUT_OFFICER_OBJECT_ID:-} ]] && args+=(--officer-object-id "$INPUT_OFFICER_OBJECT_ID")
[[ -n ${INPUT_KEY_SUFFIX:-} ]] && args+=(--key-suffix "$INPUT_KEY_SUFFIX")
[[ -n ${INPUT_PROFILE:-} ]] && args+=(--profile "$INPUT_PROFILE")
# Split on whitespace, never glob-expanded.
set -f
for rule in ${INPUT_IGNORE:-}; do
  args+=(--ignore "$rule")
done
set +f
args+=(--fail-on "${INPUT_FAIL_ON:-error}")

cmek-arm "${args[@]}" --format github
code=$?
out exit-code "$code"

upload=false
if [[ ${INPUT_UPLOAD_SARIF:-false} == true ]]; then
  sarif=${INPUT_SARIF_FILE:-cmek-arm.sarif}
  if [[ $code -le 1 ]]; then
    # Written to a temporary file first: a failed run leaves no half-written report.
    if cmek-arm "${args[@]}" --format sarif > "$sarif.tmp"; sarif_code=$?; [[ $sarif_code -le 1 ]]; then
      mv "$sarif.tmp" "$sarif"
      out sarif-file "$sarif"
      upload=true
    else
      rm -f "$sarif.tmp"
      echo "::warning::the SARIF run exited $sarif_code; nothing is uploaded"
    fi
  else
    echo "::warning::cmek-arm exited $code; no SARIF is written"
  fi
fi
out upload "$upload"
exit 0
