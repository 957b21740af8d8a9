"""A real kernel (nbclient): executing the same Lab cell 5 times leaves exactly one training thread and one
publisher (issue 10). nbclient sends no cell id, so this also covers the source-text fallback."""

import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

COUNT = """
import json, threading, time
time.sleep(0.5)
names = [t.name for t in threading.enumerate() if t.is_alive()]
from nbtrain.ui.lab import live_labs
print(json.dumps({"trainers": names.count("nbtrain-trainer"), "publishers": sum("publisher" in n for n in names),
                  "labs": len(live_labs()), "state": lab.state, "old_states": [l.state for l in old]}))
"""


@pytest.mark.timeout(240)
def test_executing_the_same_lab_cell_five_times_leaves_one_training_thread(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("import nbtrain as nt\nold = []"),
        new_code_cell("if 'lab' in globals(): old.append(lab)\n"
                      "lab = nt.Lab(data='spiral', hidden=[8], max_steps=10**6, device='cpu', interval=0.2)\n"
                      "lab.start()\nlab"),
        new_code_cell(COUNT),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        for _ in range(5):
            client.execute_cell(nb.cells[1], 1)
        client.execute_cell(nb.cells[2], 2)
    out = [o for o in nb.cells[2].outputs if o.get("output_type") == "stream"]
    assert out, nb.cells[2].outputs
    counts = json.loads(out[-1]["text"].strip().splitlines()[-1])
    assert counts["trainers"] == 1 and counts["publishers"] == 1 and counts["labs"] == 1, counts
    assert counts["state"] == "running" and counts["old_states"] == ["stopped"] * 4, counts
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    nbformat.validate(nb)
