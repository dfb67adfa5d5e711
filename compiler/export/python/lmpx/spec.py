"""spec.json: the resolved IR of the exported target (`ir`) and what this package runs (`run`)."""
import json
import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(package_dir=HERE):
    with open(os.path.join(package_dir, "spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format") != "lmp-export" or spec.get("version") != 1:
        raise SystemExit(f"LMP_E_EXPORT_SPEC: {package_dir}/spec.json is not an lmp export (version 1)")
    return spec


def path(package_dir, rel):
    return rel if os.path.isabs(rel) else os.path.join(package_dir, rel)
