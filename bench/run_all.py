"""`make bench`: every benchmark of the project, one line of figures each."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "import_ndc_bench.py",
    "health_bench.py",
    "intake_bench.py",
    "allocation_bench.py",
    "queue_bench.py",
    "label_bench.py",
    "shipping_label_bench.py",
]

failed = False
for name in BENCHMARKS:
    print(f"==> {name}", flush=True)
    result = subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent)
    failed = failed or result.returncode != 0
sys.exit(1 if failed else 0)
