"""In a real kernel (nbclient) a Lab's publish hands its widget messages to the IOPub thread in one job, and the
client still receives every one of them: the training-loss line's state reaches it with the run's last step."""

import base64
import json

import numpy as np
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

CELL = """
import json, threading
import ipywidgets as W
import nbtrain as nt
io = get_ipython().kernel.iopub_thread
jobs, messages = [], []
schedule, send = io.schedule, W.Widget._send
io.schedule = lambda f: (jobs.append(threading.current_thread().name), schedule(f))[1]
W.Widget._send = lambda self, msg, buffers=None: (messages.append(1), send(self, msg, buffers))[1]
lab = nt.Lab(data="spiral", hidden=[8], n_samples=200, max_steps=120, seed=0, device="cpu", interval=60)
display(lab)
lab.trainer.step(120)
lab.trainer.wait(timeout=60)
jobs.clear(); messages.clear()
lab.publish(force=True)
mine = jobs.count(threading.current_thread().name)
print(json.dumps({"jobs": mine, "messages": len(messages), "line": lab.loss_lines["train"].model_id,
                  "last": int(lab.loss_lines["train"].x[-1])}))
"""


@pytest.mark.timeout(240)
def test_a_publish_in_a_kernel_is_one_iopub_job_and_every_message_arrives(tmp_path):
    nb = new_notebook(cells=[new_code_cell(CELL), new_code_cell("import time; time.sleep(0.5)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        client.execute_cell(nb.cells[1], 1)  # the IOPub thread has sent the batch meanwhile
        out = [o for o in nb.cells[0].outputs if o.get("output_type") == "stream"]
        assert out, nb.cells[0].outputs
        got = json.loads(out[-1]["text"].strip().splitlines()[-1])
        assert got["messages"] >= 5 and got["jobs"] == 1, got  # many widgets, one job
        state = client.widget_state[got["line"]]
        x = client.widget_buffers[got["line"]][("x", "value")]
        assert state["x"]["dtype"] == "int32"  # the line's last update, decoded as the client got it
        assert int(np.frombuffer(base64.b64decode(x["data"]), dtype=np.int32)[-1]) == got["last"] == 119
