"""Reading an edited template for a running stage: the new model, what changed, the new
tables and queues put in the engines, and the functions rebuilt, all before anything the
stage serves is touched. A template that cannot be read or provisioned changes nothing:
the stage goes on with the previous one and says why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wslocal.cache import cache_dir
from wslocal.engines.provisioning import Provisioned
from wslocal.exceptions import WslocalError
from wslocal.runtime.pools import prepare_runtimes
from wslocal.runtime.settings import PreparedRuntime
from wslocal.template import StageModel
from wslocal.template.changes import TemplateChanges, compare

log = logging.getLogger("wslocal")


class TemplateSource(Protocol):
    """The template a stage serves, to read again when it is edited, and the engines
    that get its new tables and queues."""

    @property
    def path(self) -> Path: ...

    def load(self) -> StageModel: ...

    def provision(self, model: StageModel) -> Provisioned: ...


@dataclass(frozen=True)
class Reload:
    """An edited template, ready to apply."""

    model: StageModel
    changes: TemplateChanges
    provisioned: Provisioned
    runtimes: Mapping[str, PreparedRuntime]


async def read_edit(
    template: TemplateSource, current: StageModel, *, build: bool, debugged: Collection[str] = ()
) -> Reload | TemplateChanges | None:
    """The edit to apply; empty TemplateChanges when nothing the stage serves changed;
    None when the template cannot be read, provisioned or built (logged). The
    ``debugged`` functions are built with their debugger, as at start."""
    name = template.path.name
    try:
        model = await asyncio.to_thread(template.load)
        changes = compare(current, model)
        if not changes:
            log.info("%s changed: nothing the stage serves changed", name)
            return changes
        provisioned = await asyncio.to_thread(template.provision, model)
        runtimes = await asyncio.to_thread(prepare_runtimes, model, cache_dir(), build, debugged)
    except WslocalError as exc:
        log.error("%s not applied, still serving the previous one: %s", name, exc)
        return None
    made = [f"created table {table}" for table in provisioned.tables_made]
    made += [f"created queue {queue}" for queue in provisioned.queues_made]
    if changes.tables.changed:
        made.append(
            f"tables {', '.join(changes.tables.changed)} exist already and are kept "
            "as they are (delete them, or restart without --db-path, to recreate)"
        )
    log.info("%s changed: %s", name, "; ".join([changes.describe(), *made]))
    return Reload(model, changes, provisioned, runtimes)
