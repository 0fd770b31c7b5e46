#!/bin/bash
# Wall and CPU seconds of one `generate` job on the built-in model, and of `import lm.generation`,
# for two checkouts side by side (interleaved, ROUNDS rounds). Usage:
#   git archive 06ea97b | tar -x -C /tmp/before   # the checkout to compare against
#   benchmarks/cli_startup.sh /tmp/before ppl.cli . frontend.cli [ROUNDS]
# Each line: "<label> wall W user U sys S"; compare medians of the two labels.
BEFORE=$1; BEFORE_CLI=$2; AFTER=$3; AFTER_CLI=$4; ROUNDS=${5:-5}
SCHEMA=$(cd "$AFTER" && pwd)/examples/person.json
job() {  # label dir cli-module
  (cd "$2" && /usr/bin/time -f "$1 wall %e user %U sys %S" python -c \
    "import sys; from $3 import main; sys.exit(main(sys.argv[1:]))" generate --prompt "Person: " --schema "$SCHEMA" \
    --model builtin 2>&1 >/dev/null | tail -1)
}
imports() {  # label dir
  (cd "$2" && /usr/bin/time -f "$1 wall %e user %U sys %S" python -c "import lm.generation" 2>&1 | tail -1)
}
for _ in $(seq "$ROUNDS"); do
  job before "$BEFORE" "$BEFORE_CLI"; job after "$AFTER" "$AFTER_CLI"
  imports before-import "$BEFORE"; imports after-import "$AFTER"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
done
