"""`cti agi-script ivr`: the YAML flows over classic stdin/stdout AGI, for sites without FastAGI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = ("agi_network: yes\nagi_request: ivr\nagi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795339691.1\n"
       "agi_callerid: 13800000001\nagi_calleridname: 张三\nagi_extension: 12345\n\n")


def test_agi_script_runs_the_yaml_flow_engine_to_a_queue():
    proc = subprocess.Popen([sys.executable, "-m", "cti.cli", "agi-script", "ivr"], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(ENV)
    proc.stdin.flush()
    commands = []
    for line in proc.stdout:  # a caller who never presses a key: every command answers at once
        commands.append(line.strip())
        proc.stdin.write("200 result=0\n")
        proc.stdin.flush()
        if len(commands) > 60:
            break
    assert proc.wait(timeout=20) == 0
    assert commands[0] == "GET VARIABLE CTI_HOTLINE"            # the flow engine, not the placeholder
    assert any(c.startswith("SET VARIABLE __CTI_IVR_VERSION ") for c in commands)
    assert commands[-1] == "SET VARIABLE CTI_RESULT ok"
