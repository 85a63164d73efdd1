#!/usr/bin/env bash
# GPU check (NOT RUN YET: no GPU was available when this was written).
# Run from the repository root on a machine with a GPU:
#     bash benchmarks/gpu_check.sh            (about 5-10 minutes)
# 1. Each model trains STEPS steps on the built-in data set (dsprites_procedural), seed 42,
#    with conv_impl xla and fast, on the GPU; its first-chunk losses are compared with a CPU run
#    of the same seed (JAX_PLATFORMS=cpu), which must agree to float tolerance.
# 2. Steps/s (batch 64) for both conv_impl values and for 1 and 8 seeds (vmap).
set -euo pipefail
export PYTHONPATH=.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/lddrcache}
PY=${PY:-python}
STEPS=${STEPS:-2000}
OUT=${OUT:-/tmp/lddr_gpu_check}
mkdir -p "$OUT"

cat > "$OUT/first_losses.py" <<'PYEOF'
"""Print the per-step losses of the first 10 steps of each model (JSON), on this backend."""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from configs import Config
from data import get_dataset
from models import build_model
from training.step import init_train_state, train_steps
impl = sys.argv[1]
data = get_dataset("dsprites_procedural"); images = jax.device_put(data.images)
models = {"vae": dict(gaussian=True), "dvae": {}, "factor_vae": dict(gaussian=True, tc=True, gamma=30.0),
          "factor_dvae": dict(tc=True, gamma=30.0)}
out = {"backend": jax.default_backend()}
for name, kw in models.items():
    model = build_model(Config(**kw, conv_impl=impl), 1)
    ts = init_train_state(model, jnp.zeros((64, 64, 64, 1)))
    ts, terms = train_steps(model, data, images, ts, 10)
    out[name] = np.asarray(terms["loss"]).tolist()
print(json.dumps(out))
PYEOF

echo "== devices"; $PY -c "import jax; print(jax.devices())"
JAX_PLATFORMS=cpu $PY "$OUT/first_losses.py" fast > "$OUT/cpu.json"
for impl in xla fast; do
  $PY "$OUT/first_losses.py" $impl > "$OUT/gpu_$impl.json"
  $PY - "$OUT/cpu.json" "$OUT/gpu_$impl.json" <<'PYEOF'
import json, sys, numpy as np
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
for name in ("vae", "dvae", "factor_vae", "factor_dvae"):
    ok = np.allclose(cpu[name], gpu[name], rtol=1e-3)
    print(f"{gpu['backend']} {sys.argv[2].split('_')[-1][:-5]} {name}: first losses {'match' if ok else 'DIFFER'} "
          f"(max rel diff {np.max(np.abs(np.subtract(cpu[name], gpu[name])) / np.abs(cpu[name])):.2e})")
PYEOF
done

echo "== $STEPS steps per model (conv_impl auto), losses logged every 500"
for flags in "--gaussian" "" "--gaussian --tc --gamma 30" "--tc --gamma 30"; do
  $PY run.py $flags --steps "$STEPS" --log_every 500 --eval_every 0 --save_every 0 --save_path "$OUT" \
      --steps_per_dispatch 100 --no_progress
done

echo "== speed: conv_impl xla vs fast, 1 and 8 seeds"
$PY benchmarks/train_speed.py --chunk 100 --seeds 1,8
