"""The validate benchmark's baseline: Python's json.load merely parsing each file."""
import json
import sys

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        json.load(f)
