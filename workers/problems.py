"""Search and planning problems for the default application's agents (pure Python).

Registered as ``function.py`` entries (``app.workers:make_tasks``, ``app.workers:solve``), so
a ``funcs.call`` runs them inside the calling process's OS process: agents call ``solve`` on
the ``app:agents`` host, where each OS process has a core of its own.

Every task is plain data and fully determined by ``(seed, task id, difficulty)``; every answer
is deterministic, so a run's answer digest does not depend on which agent solved what. Four
kinds, sized so one task takes roughly 50-300 ms on a 2020s laptop core (``normal``):

* ``queens``  count the solutions of the N-queens problem (bitmask backtracking)
* ``puzzle``  shortest solutions of a batch of random 8-puzzles (A*, Manhattan heuristic); the
  task carries its boards (``boards``), so a solver in any language can take it: the evolving
  agent (``workers/evolve/``) writes faster ones in Lua
* ``maze``    shortest path across a random grid maze, flooding it breadth-first
* ``hanoi``   plans for Towers of Hanoi on 4 pegs from a random state (BFS over all states)
"""
from __future__ import annotations

import heapq
import random
import time
from typing import Any

__all__ = ["make_tasks", "solve", "puzzle_boards", "KINDS", "DIFFICULTY"]

KINDS = ("queens", "puzzle", "maze", "hanoi")

#: Size ranges per difficulty (inclusive), per kind: queens board side, 8-puzzles per batch,
#: maze side, hanoi disks. ``normal`` averages ~150 ms of CPU per task.
DIFFICULTY: dict[str, dict[str, tuple[int, int]]] = {
    "easy":   {"queens": (10, 11), "puzzle": (4, 10),  "maze": (200, 350), "hanoi": (6, 7)},
    "normal": {"queens": (11, 12), "puzzle": (10, 30), "maze": (350, 550), "hanoi": (7, 8)},
    "hard":   {"queens": (12, 12), "puzzle": (30, 60), "maze": (550, 750), "hanoi": (8, 8)},
}


def make_tasks(count: int, difficulty: str = "normal", seed: int = 42,
               poison: int | None = None) -> list[dict[str, Any]]:
    """``count`` task descriptions; task number ``poison`` (if any) is marked poisoned."""
    count = int(count)
    sizes = DIFFICULTY.get(str(difficulty))
    if sizes is None:
        raise ValueError(f"unknown difficulty {difficulty!r} (one of {', '.join(DIFFICULTY)})")
    rng = random.Random(f"{seed}:{difficulty}")
    tasks = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        lo, hi = sizes[kind]
        task = {"id": i, "kind": kind, "size": rng.randint(lo, hi),
                "seed": rng.randrange(1 << 30), "poison": i == poison}
        if kind == "puzzle":
            task["boards"] = puzzle_boards(task["size"], task["seed"])
        tasks.append(task)
    return tasks


def solve(task: dict[str, Any]) -> dict[str, Any]:
    """Solve one task: ``{"id", "kind", "answer", "cpu_ms"}`` (``cpu_ms``: this thread's CPU)."""
    t0 = time.thread_time()
    kind, size, seed = task["kind"], int(task["size"]), int(task["seed"])
    answer: int | list[int]
    if kind == "queens":
        answer = queens(size)
    elif kind == "puzzle":
        boards = task.get("boards")
        answer = (sum(_astar8(tuple(b)) for b in boards) if boards is not None
                  else puzzle(size, seed))
    elif kind == "maze":
        answer = maze(size, seed)
    elif kind == "hanoi":
        answer = hanoi(size, seed)
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    return {"id": task["id"], "kind": kind, "answer": answer,
            "cpu_ms": round((time.thread_time() - t0) * 1000, 1)}


# -- N-queens ------------------------------------------------------------------------------

def queens(n: int) -> int:
    """Number of ways to place n non-attacking queens on an n x n board."""
    full = (1 << n) - 1

    def place(cols: int, d1: int, d2: int) -> int:
        if cols == full:
            return 1
        count = 0
        free = full & ~(cols | d1 | d2)
        while free:
            bit = free & -free
            free ^= bit
            count += place(cols | bit, ((d1 | bit) << 1) & full, (d2 | bit) >> 1)
        return count

    return place(0, 0, 0)


# -- 8-puzzle ------------------------------------------------------------------------------

_GOAL = (1, 2, 3, 4, 5, 6, 7, 8, 0)
_MOVES = {i: [j for j in (i - 3, i + 3, i - 1 if i % 3 else -1, i + 1 if i % 3 < 2 else -1)
              if 0 <= j < 9] for i in range(9)}
_GOAL_POS = {t: (i // 3, i % 3) for i, t in enumerate(_GOAL)}
# _DIST[tile][cell]: Manhattan distance of `tile` at `cell` from its goal cell
_DIST = [[0] * 9] + [[abs(_GOAL_POS[t][0] - i // 3) + abs(_GOAL_POS[t][1] - i % 3)
                      for i in range(9)] for t in range(1, 9)]


def _random_board(rng: random.Random) -> tuple[int, ...]:
    """A random solvable board (a random walk long enough to forget the start)."""
    board = list(_GOAL)
    blank, prev = 8, -1
    for _ in range(200):
        nxt = rng.choice([j for j in _MOVES[blank] if j != prev])
        board[blank], board[nxt] = board[nxt], 0
        prev, blank = blank, nxt
    return tuple(board)


def _astar8(board: tuple[int, ...]) -> int:
    """Length of the shortest solution (A*, Manhattan heuristic)."""
    dist = _DIST
    h0 = sum(dist[t][i] for i, t in enumerate(board))
    best = {board: 0}
    heap = [(h0, 0, board.index(0), h0, board)]
    while heap:
        _, g, blank, h, b = heapq.heappop(heap)
        if h == 0:
            return g
        if g > best[b]:
            continue
        for nxt in _MOVES[blank]:
            tile = b[nxt]
            nh = h - dist[tile][nxt] + dist[tile][blank]
            lst = list(b)
            lst[blank], lst[nxt] = tile, 0
            nb = tuple(lst)
            if g + 1 < best.get(nb, 99):
                best[nb] = g + 1
                heapq.heappush(heap, (g + 1 + nh, g + 1, nxt, nh, nb))
    return -1


def puzzle(batch: int, seed: int) -> int:
    """Total length of the shortest solutions of ``batch`` random 8-puzzles (A* each)."""
    rng = random.Random(seed)
    return sum(_astar8(_random_board(rng)) for _ in range(batch))


def puzzle_boards(batch: int, seed: int) -> list[list[int]]:
    """The boards of :func:`puzzle` (cells row by row, 0 the blank), as plain lists."""
    rng = random.Random(seed)
    return [list(_random_board(rng)) for _ in range(batch)]


# -- grid maze -----------------------------------------------------------------------------

def maze(side: int, seed: int) -> list[int]:
    """Flood a ``side`` x ``side`` grid with ~30 % random walls from its top-left corner
    (breadth-first): ``[shortest path length to the bottom-right corner or -1, cells reached]``."""
    rng = random.Random(seed)
    n = side * side
    wall = bytearray(1 if rng.random() < 0.3 else 0 for _ in range(n))
    start, goal = 0, n - 1
    for cell in (start, start + 1, start + side, goal, goal - 1, goal - side):
        wall[cell] = 0              # keep both corners open
    dist = [-1] * n
    dist[start] = 0
    frontier = [start]
    depth = 0
    while frontier:
        depth += 1
        nxt_frontier = []
        for cell in frontier:
            c = cell % side
            for nb in (cell - side, cell + side, cell - 1 if c else -1, cell + 1 if c < side - 1 else -1):
                if 0 <= nb < n and not wall[nb] and dist[nb] < 0:
                    dist[nb] = depth
                    nxt_frontier.append(nb)
        frontier = nxt_frontier
    return [dist[goal], n - dist.count(-1)]


# -- Towers of Hanoi, 4 pegs ---------------------------------------------------------------

def hanoi(disks: int, seed: int) -> list[int]:
    """Towers of Hanoi on 4 pegs from a random legal state (``disks`` disks): breadth-first
    over all 4^disks states: ``[fewest moves to gather every disk on the last peg, moves to
    the state farthest from the start]``."""
    rng = random.Random(seed)
    start = tuple(rng.randrange(4) for _ in range(disks))     # peg of disk i (0 = smallest)
    goal = (3,) * disks
    to_goal = 0 if start == goal else -1
    seen = {start}
    frontier = [start]
    depth = 0
    while frontier:
        depth += 1
        nxt_frontier = []
        for state in frontier:
            top = [disks] * 4           # smallest disk on each peg (disks = empty)
            for d in range(disks - 1, -1, -1):
                top[state[d]] = d
            for src in range(4):
                d = top[src]
                if d == disks:
                    continue
                for dst in range(4):
                    if dst != src and top[dst] > d:
                        new = state[:d] + (dst,) + state[d + 1:]
                        if new not in seen:
                            if new == goal:
                                to_goal = depth
                            seen.add(new)
                            nxt_frontier.append(new)
        frontier = nxt_frontier
    return [to_goal, depth - 1]
