"""How long a resume takes: `tfl train` killed with SIGKILL midway in a stage,
then the same command again.

Runs the same training twice on the embedded digits data:
uninterrupted (the checkpoint is always on with `--output`), and killed
after KILL_AFTER epochs of the second stage (halfway into the next one)
then resumed by the same command. Prints a table and writes
bench/resume.json.

    python bench/resume.py [--kill-after 2] [--backbone mobilenet_v3_small]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time


def command(output, backbone, image_size, stages):
    return [
        sys.executable, "-m", "tfl", "train", "--data", "digits", "--backbone", backbone, "--weights", "none",
        "--image-size", str(image_size), "--stages", stages, "--batch-size", "32", "--seed", "1",
        "--verbose", "0", "--output", output,
    ]


def state(output):
    try:
        with open(os.path.join(output, "checkpoint", "state.json"), encoding="utf-8") as file:
            return json.load(file)["point"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def timed(cmd, env):
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr[-3000:])
    return time.perf_counter() - start, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="mobilenet_v3_small")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--stages", default="none:2:1e-3,all:6:1e-3")
    parser.add_argument("--kill-after", type=int, default=2, help="epochs of stage 2 finished before the kill")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "resume.json"))
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    with tempfile.TemporaryDirectory() as root:
        full = os.path.join(root, "uninterrupted")
        uninterrupted, _ = timed(command(full, args.backbone, args.image_size, args.stages), env)
        with open(os.path.join(full, "report.json"), encoding="utf-8") as file:
            report = json.load(file)

        killed = os.path.join(root, "killed")
        cmd = command(killed, args.backbone, args.image_size, args.stages)
        start = time.perf_counter()
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        saves = []
        while process.poll() is None:
            point = state(killed)
            if point is not None and (not saves or saves[-1][1] != point["saved_at"]):
                saves.append((time.perf_counter() - start, point["saved_at"], point["stage"], point["stage_epochs"]))
            if point is not None and point["stage"] == 1 and point["stage_epochs"] >= args.kill_after:
                time.sleep(0.5 * (saves[-1][0] - saves[-2][0]) if len(saves) > 1 else 0.5)  # mid-epoch
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        process.wait()
        killed_at = time.perf_counter() - start
        last_save = saves[-1][0]
        weights = os.path.join(killed, "checkpoint", state(killed)["weights"])
        checkpoint_mb = os.path.getsize(weights) / 1e6
        resumed, stdout = timed(cmd, env)
        with open(os.path.join(killed, "report.json"), encoding="utf-8") as file:
            resumed_report = json.load(file)

    rows = {
        "backbone": args.backbone,
        "image_size": args.image_size,
        "stages": args.stages,
        "uninterrupted_s": uninterrupted,
        "killed_at_s": killed_at,
        "work_lost_s": killed_at - last_save,
        "resumed_run_s": resumed,
        "killed_plus_resumed_s": killed_at + resumed,
        "extra_s": killed_at + resumed - uninterrupted,
        "checkpoint_mb": checkpoint_mb,
        "accuracy_uninterrupted": report["accuracy"],
        "accuracy_resumed": resumed_report["accuracy"],
        "continued": "Continuing the unfinished run" in stdout,
    }
    print(f"{args.backbone} {args.image_size}px, stages {args.stages}, killed after {args.kill_after} epochs of stage 2")
    print("| measure | value |\n|---|---|")
    for key, value in rows.items():
        if key in ("backbone", "image_size", "stages"):
            continue
        print(f"| {key} | {value:.3f} |" if isinstance(value, float) else f"| {key} | {value} |")
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(rows, file, indent=1)


if __name__ == "__main__":
    main()
