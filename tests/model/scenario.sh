# The model test as a bltest_run scenario (fresh database, real branchd):
# MODEL_STEPS, MODEL_SEED and MODEL_TENANTS choose the run (run.sh sets
# them; ctest runs a bounded one).
# shellcheck shell=bash
# MODEL_SHRINK_SECONDS bounds the shortening of a failing sequence;
# MODEL_REPLAY names a JSON file of steps to run instead.
exec python3 "$(dirname "$0")/model.py" --steps "${MODEL_STEPS:-300}" --seed "${MODEL_SEED:-1}" \
    --tenants "${MODEL_TENANTS:-2}" --shrink-seconds "${MODEL_SHRINK_SECONDS:-600}" \
    ${MODEL_REPLAY:+--replay "$MODEL_REPLAY"}
