"""Node builds with the real tools: esbuild bundles built once however many workers start
at the same moment."""

import asyncio

from wslocal.cache import cache_dir
from wslocal.runtime.node.builds import bundle
from wslocal.template import FunctionModel


async def test_workers_starting_together_get_one_finished_bundle(tmp_path):
    (tmp_path / "app.ts").write_text("export const handler = async (): Promise<number> => 7;\n")
    function = FunctionModel(
        logical_id="Ts", function_name="ts", code_dir=tmp_path, handler="app.handler",
        runtime="nodejs20.x", timeout=3.0, memory_size=128, environment={}, layer_dirs=(),
        build_method="esbuild", build_properties={"EntryPoints": ["app.ts"]},
    )  # fmt: skip
    built = await asyncio.gather(
        *(asyncio.to_thread(bundle, function, [], cache_dir(), "20.0.0") for _ in range(4))
    )
    assert len(set(built)) == 1
    assert (built[0] / "app.js").is_file()
    assert (built[0] / ".complete").is_file()
    assert not list(built[0].parent.glob(f"{built[0].name}.partial-*"))
