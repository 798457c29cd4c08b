"""A program for the command-line optimizee tests: prints the sphere of --x as JSON.

TARGET_MODE (environment): 'fail' (individual 1 exits 2 on its first attempt), 'hang'
(individual 2 starts a grandchild and sleeps on its first attempt), 'file' (writes the
result file instead of printing), 'silent' (prints no fitness).
"""

import json
import os
import subprocess
import sys
import time

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
x = [float(v) for v in args["x"].split(",")]
with open(os.environ["MPIL2L_PARAMS_FILE"]) as f:
    where = json.load(f)
ind, attempt = where["ind_idx"], where["attempt"]
mode = os.environ.get("TARGET_MODE", "")
fitness = sum(v * v for v in x)
print(
    f"evaluating individual {ind} attempt {attempt} launched={os.environ.get('LAUNCHED', '')}",
    flush=True,
)
print(f"stderr of individual {ind}", file=sys.stderr, flush=True)
if mode == "fail" and ind == 1 and attempt == 0:
    print("boom: failing on purpose", file=sys.stderr)
    sys.exit(2)
if mode == "hang" and ind == 2 and attempt == 0:
    subprocess.Popen(["sleep", "300"])
    time.sleep(300)
if mode == "silent":
    sys.exit(0)
if mode == "file":
    with open(os.environ["MPIL2L_RESULT_FILE"], "w") as f:
        json.dump({"fitness": [fitness]}, f)
else:
    print(json.dumps({"fitness": [fitness]}))
