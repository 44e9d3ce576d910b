"""``geophoto workflow``: an example workflow runs headless from a terminal; a widget error
makes the command fail and names the widget."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "workflows", "places-and-recommendations.ows")


def geophoto(*args, cwd=None):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", *args],
                          capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


def test_example_workflow_runs_headless():
    done = geophoto("workflow", EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert "8 widgets finished" in done.stderr and "0 with errors" in done.stderr
    assert ": error:" not in done.stdout


def test_widget_error_fails_the_command_and_names_the_widget(tmp_path):
    # the same workflow with un-embedded photos wired into Geo Classifier
    for folder in ("places", "swipes"):
        shutil.copytree(os.path.join(ROOT, "workflows", folder), tmp_path / folder)
    with open(EXAMPLE, encoding="utf-8") as f:
        text = f.read()
    wired = ('source_node_id="1" sink_node_id="4" source_channel="Embeddings" '
             'sink_channel="Data" enabled="true" source_channel_id="embeddings"')
    assert wired in text
    broken = text.replace(wired, wired.replace('source_node_id="1"', 'source_node_id="0"')
                          .replace('"Embeddings"', '"Data"').replace('"embeddings"', '"data"'))
    (tmp_path / "broken.ows").write_text(broken, encoding="utf-8")
    done = geophoto("workflow", str(tmp_path / "broken.ows"))
    assert done.returncode == 1
    assert "Geo Classifier: error: No features: embed the photos.\n" in done.stdout
    assert "connect it through the Local Embedder" not in done.stdout  # details stay out


def test_missing_file_is_a_clear_error(tmp_path):
    done = geophoto("workflow", str(tmp_path / "none.ows"))
    assert done.returncode == 1
    assert "no such workflow file" in done.stderr
