"""A state machine as data: the states, one table of moves, and a history row per move.

The order and the prescription machines are both a `StateMachine`, declared next to
their choices. `move` is the one place a status changes: it refuses what the table
does not allow, saves the status (and only the fields its caller names), and writes
the history row, the first state's included. Locks, side effects and the fields a
move brings with it stay with the services that call it.

A history model has a foreign key to the object, `from_status` (blank for the first
state), `to_status` and `actor`; anything else it holds is passed as keywords.
"""

from collections.abc import Iterable, Mapping

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

NEW = "new"  # how the state before the first one reads in messages


class MoveRefused(ValidationError):
    """A move outside the table; its message names both states in words."""

    def __init__(
        self,
        message: str,
        code: str = "move_refused",
        params=None,
        *,
        from_state: str | None = None,
        to_state: str | None = None,
    ):
        # ValidationError's own arguments first, so copying or unpickling it still works.
        super().__init__(message, code, params)
        self.from_state = from_state
        self.to_state = to_state


class StateMachine:
    """`table` maps each state (and None, before the first) to the states it may become.

    `repeats`: moving an object into the state it is already in changes nothing and
    returns None (a retried task or a late webhook); otherwise a repeat is refused
    like any other move outside the table. `refusal` is the message of a refused move,
    formatted with `obj`, `from_state` and `to_state` (the states' labels, in lower case).
    """

    def __init__(
        self,
        *,
        choices: type[models.TextChoices],
        table: Mapping[str | None, Iterable[str]],
        history: str,
        history_fk: str,
        field: str = "status",
        repeats: bool = False,
        refusal: str = "{obj} is {from_state} and cannot become {to_state}.",
    ):
        states = set(choices.values)
        named = set(table) | {to for targets in table.values() for to in targets}
        if named - states - {None}:
            raise ValueError(f"Not states of {choices.__name__}: {sorted(named - states - {None})}")
        if set(table) != states | {None}:
            missing = sorted(str(s) for s in (states | {None}) - set(table))
            raise ValueError(f"The table must list every state, terminal ones too: {missing}")
        self.choices = choices
        self.table = {state: frozenset(targets) for state, targets in table.items()}
        self.history = history
        self.history_fk = history_fk
        self.field = field
        self.repeats = repeats
        self.refusal = refusal

    @property
    def history_model(self) -> type[models.Model]:
        """Named as "app_label.Model", so the table can sit above the history model."""
        return apps.get_model(self.history)

    def allows(self, from_state: str | None, to_state: str) -> bool:
        """Whether the table has this move (a repeat counts only if it lists it)."""
        return to_state in self.table.get(from_state, ())

    def moves(self) -> list[tuple[str | None, str]]:
        """Every allowed move, first states first, in the order of the choices."""
        order = [None, *self.choices.values]
        return [(a, b) for a in order for b in self.choices.values if self.allows(a, b)]

    def mermaid(self) -> str:
        """The machine as a mermaid stateDiagram, for the README (a test keeps it true)."""
        lines = ["stateDiagram-v2"]
        for from_state, to_state in self.moves():
            lines.append(f"    {from_state or '[*]'} --> {to_state}")
        lines += [f"    {state} --> [*]" for state in self.choices.values if not self.table[state]]
        return "\n".join(lines)

    def label(self, state: str | None) -> str:
        return NEW if state is None else self.choices(state).label.lower()

    def move(
        self,
        obj: models.Model,
        to: str,
        *,
        actor=None,
        also_save: Iterable[str] = (),
        **history_fields,
    ) -> models.Model | None:
        """Move `obj` to `to` and return the history row, or None for an allowed repeat.

        An unsaved object enters its first state: it is inserted whole, with a row
        from no state. A saved one has only its status, `updated_at` if it has one,
        and the fields named in `also_save` written, in one UPDATE, so a move can
        never save what its caller did not mean to. A move outside the table raises
        MoveRefused and changes nothing.
        """
        if to not in self.choices.values:
            raise ValidationError(f"{to!r} is not a state of {self.choices.__name__}.")
        new = obj._state.adding
        current = None if new else getattr(obj, self.field)
        if current == to and self.repeats:
            return None
        if not self.allows(current, to):
            raise MoveRefused(
                self.refusal.format(
                    obj=obj, from_state=self.label(current), to_state=self.label(to)
                ),
                from_state=current,
                to_state=to,
            )
        setattr(obj, self.field, to)
        if new:
            obj.save(force_insert=True)
        else:
            obj.save(update_fields=[self.field, *self._updated_at(obj), *also_save])
        return self._row(obj, from_state=current, to_state=to, actor=actor, **history_fields)

    def note(self, obj: models.Model, *, actor=None, **history_fields) -> models.Model:
        """A history row that is not a move: something happened while the state stayed."""
        state = getattr(obj, self.field)
        return self._row(obj, from_state=state, to_state=state, actor=actor, **history_fields)

    def _row(self, obj, *, from_state: str | None, to_state: str, actor, **fields):
        return self.history_model.objects.create(
            **{self.history_fk: obj},
            from_status=from_state or "",
            to_status=to_state,
            actor=actor,
            **fields,
        )

    @staticmethod
    def _updated_at(obj) -> list[str]:
        try:
            obj._meta.get_field("updated_at")
        except FieldDoesNotExist:
            return []
        return ["updated_at"]
