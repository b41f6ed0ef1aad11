"""Which functions a changed file concerns: its own code folder, or a layer it uses."""

from tests.support.paths import FIXTURES
from wslocal.server.watcher import functions_changed, watched_folders
from wslocal.template import build_stage_model, read_template

APP = FIXTURES / "echo_app"


def model():
    return build_stage_model(read_template(APP / "template.yaml"), APP)


def test_a_file_of_a_layer_concerns_every_function_that_uses_it():
    stage = model()
    changed = functions_changed(stage, [APP / "shared" / "echo_shared" / "__init__.py"])
    users = {name for name, f in stage.functions.items() if f.layer_dirs}
    assert set(changed) == users and users
    assert all(files == ["__init__.py"] for files in changed.values())


def test_a_file_outside_every_function_concerns_none():
    assert functions_changed(model(), [APP / "template.yaml"]) == {}


def test_every_code_and_layer_folder_is_watched_once():
    folders = watched_folders(model())
    assert len(folders) == len(set(folders))
    assert (APP / "src").resolve() in folders and (APP / "shared").resolve() in folders
