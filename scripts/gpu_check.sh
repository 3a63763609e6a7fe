#!/usr/bin/env bash
# Validate vsr's GPU path on one CUDA GPU, in under 8 minutes. Run it from the repository root
# after `make install`; it prints what it measured and writes gpu_check/summary.json.
#
#   1. parity with the mmagic fixture on CUDA, TF32 off (max abs difference <= 1e-4)
#   2. fp16 / bf16 inference against fp32 on real frames (PSNR of the difference)
#   3. vsr-bench model: each deformable-conv formulation, forward and training
#   4. one debug=fdr training step in bf16-mixed, and one with model.compile=true
#   5. the CUDA-only tests of the suite
set -euo pipefail
out=${1:-gpu_check}
mkdir -p "$out"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU: nothing to check')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"

echo "== 1-2. parity and reduced precision"
timeout 180 python - "$out" <<'PY'
import json, sys, time
from pathlib import Path
import numpy as np, torch
from vsr.nn import BasicVSRPlusPlus
from vsr.nn.checkpoint import generator_state_dict
from vsr.data.demo import DemoConfig, build_demo
from vsr.frames import decode_image, list_frames
from vsr.metrics import calculate_psnr

out = Path(sys.argv[1])
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
fixture = torch.load("tests/fixtures/basicvsrpp_parity_c16n2.pt", weights_only=True)
net = BasicVSRPlusPlus(**fixture["config"]).cuda().eval()
net.load_state_dict(generator_state_dict(fixture["checkpoint"]))
summary = {"parity_max_abs_diff": {}}
with torch.inference_mode():
    for name, lqs in fixture["inputs"].items():
        got = net(lqs.cuda()).cpu()
        diff = (got - fixture["outputs"][name]).abs().max().item()
        summary["parity_max_abs_diff"][name] = diff
        print(f"parity {name}: max abs diff {diff:.2e}", "OK" if diff <= 1e-4 else "FAIL")
# Real frames: the demo clips (photographs), a c64n7 network with random weights.
root = build_demo(out / "demo", DemoConfig(num_clips=5, num_frames=10, height=256, width=448))
frames = [decode_image(p, str(p)) for p in list_frames(root / "train_sharp_bicubic" / "X4" / "000")]
lqs = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div(255)[None].cuda()
torch.manual_seed(0)
big = BasicVSRPlusPlus(64, 7).cuda().eval()
with torch.inference_mode():
    ref = big(lqs).clamp(0, 1)
    for dtype in (torch.float16, torch.bfloat16):
        torch.cuda.synchronize(); tic = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype):
            half = big(lqs).float().clamp(0, 1)
        torch.cuda.synchronize()
        to8 = lambda x: (x[0] * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        psnr = min(calculate_psnr(a, b) for a, b in zip(to8(half), to8(ref)))
        summary[f"{dtype}_vs_fp32_min_psnr"] = psnr
        print(f"{dtype} vs fp32 on real frames: min PSNR {psnr:.2f} dB, finite {bool(torch.isfinite(half).all())}")
(out / "precision.json").write_text(json.dumps(summary, indent=1, default=str))
PY

echo "== 3. vsr-bench model, each formulation"
timeout 180 vsr-bench model --device cuda --impls torchvision sample sample_checkpoint \
    --passes forward train --out "$out/bench_model.json" > /dev/null
python -c "import json,sys; r=json.load(open('$out/bench_model.json')); print(json.dumps(r.get('cases', r), indent=1)[:3000])"

echo "== 4. training steps: bf16-mixed, torch.compile"
for extra in "trainer.precision=bf16-mixed" "model.compile=true"; do
    timeout 150 vsr-train debug=fdr trainer=gpu trainer.devices=1 "$extra" \
        paths.log_dir="$out/logs" paths.data_dir="$out/data" > "$out/train_${extra%%=*}.log" 2>&1 \
        && echo "fdr with $extra: OK" || { echo "fdr with $extra: FAILED (see $out)"; exit 1; }
done

echo "== 5. CUDA-only tests"
timeout 120 python -m pytest -q -k "gpu or cuda" tests/inference tests/metrics tests/nn
echo "done: $out"
