"""DefaultPreemption: the PostFilter that preempts lower-priority pods (upstream's
`plugins/defaultpreemption/default_preemption.go`); the work is `scheduler.preemption`. Its
message, shown after the FitError's, starts `preemption: `."""

from __future__ import annotations

from typing import Any

from kajitori.scheduler import framework, preemption, types

NAME = "DefaultPreemption"
MESSAGE_PREFIX = "preemption: "


class DefaultPreemption:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        args = args or {}
        self._evaluator = preemption.Evaluator(
            handle, scheduler_name=getattr(handle, "scheduler_name", types.DEFAULT_SCHEDULER_NAME),
            min_candidate_nodes_percentage=int(args.get(
                "minCandidateNodesPercentage", preemption.MIN_CANDIDATE_NODES_PERCENTAGE)),
            min_candidate_nodes_absolute=int(args.get(
                "minCandidateNodesAbsolute", preemption.MIN_CANDIDATE_NODES_ABSOLUTE)))

    async def post_filter(self, state: Any, pod: types.PodInfo, diagnosis: framework.Diagnosis
                          ) -> tuple[str | None, framework.Status]:
        nominated, status = await self._evaluator.preempt(pod, diagnosis)
        if status.message:
            return nominated, framework.Status(status.code, (MESSAGE_PREFIX + status.message,))
        return nominated, status
