"""``wippy.security``: actors, scopes and policies (S9), with Wippy's names.

Inside a process: ``security.actor()``, ``security.scope()``, ``security.can(action, resource,
meta)``, ``new_actor``, ``new_scope``, ``policy``, ``named_scope`` (see :mod:`.api`). The
pieces: the policy model and its evaluation (:mod:`.policy`), the registry's policies compiled
(:mod:`.book`), security contexts and the check (:mod:`.context`), what a registry change needs
(:mod:`.rules`), who asked the node (:mod:`.callers`), a service's context (:mod:`.lifecycle`).
docs/security.md tells the whole model.

``security.policy`` is the API's function (Wippy's name), which shadows the submodule of the
same name here: import the model as ``from wippy.security.policy import ...``.
"""
from __future__ import annotations

from .api import (
    Actor,
    Decision,
    Policy,
    Scope,
    Verdict,
    actor,
    can,
    named_scope,
    new_actor,
    new_scope,
    policy,
    scope,
    spawn_context,
)

__all__ = ["actor", "scope", "can", "new_actor", "new_scope", "policy", "named_scope",
           "spawn_context", "Actor", "Scope", "Policy", "Verdict", "Decision"]
