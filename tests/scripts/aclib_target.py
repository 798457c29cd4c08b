"""An AClib-style target: TARGET --instance I --cutoff C --seed S --config -name value ..."""

import json
import sys
import time

args = sys.argv[1:]
config_at = args.index("--config")
head = dict(zip(args[:config_at:2], args[1:config_at:2]))
config = {args[i][1:]: args[i + 1] for i in range(config_at + 1, len(args), 2)}
if config["mode"] == "hang":
    time.sleep(60)
if config["mode"] == "garbage":
    print("no result line here")
    sys.exit(3)
if config["mode"] in (
    "abort",
    "slow",
    "sat",
    "odd",
):  # what wrappers report: ABORT, a long run, AClib's SAT, nonsense
    status, runtime = {
        "abort": ("ABORT", 0.02),
        "slow": ("SUCCESS", 50.0),
        "sat": ("SAT", 0.03),
        "odd": ("WEIRD", 0.01),
    }[config["mode"]]
    print(
        "Result of this algorithm run: "
        + json.dumps({"status": status, "cost": 1.0, "runtime": runtime})
    )
    sys.exit(0)
cost = float(config["x"]) ** 2 + int(head["--seed"])
print(
    "Result of this algorithm run: "
    + json.dumps(
        {
            "status": "SUCCESS",
            "cost": cost,
            "runtime": 0.01,
            "additional_info": {"instance": head["--instance"]},
        }
    )
)
