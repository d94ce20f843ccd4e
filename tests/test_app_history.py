"""Undo/redo over LatentStates: one step per commit, equal states ignored, redo dropped on a new branch."""

from explorer.app.history import History, describe_change
from explorer.latent.state import DirectionEdit, LatentState


def test_undo_redo_walks_the_committed_states():
    h = History(LatentState())
    assert not h.can_undo() and not h.can_redo()
    a, b = LatentState(seed=1), LatentState(seed=1, psi=0.5)
    assert h.commit(a) and h.commit(b)
    assert h.undo() == a and h.undo() == LatentState()
    assert h.undo() is None
    assert h.redo() == a and h.redo() == b and h.redo() is None


def test_equal_state_is_not_a_step_and_a_new_commit_drops_redo():
    h = History(LatentState())
    assert not h.commit(LatentState())
    h.commit(LatentState(seed=1))
    h.commit(LatentState(seed=2))
    h.undo()
    h.commit(LatentState(seed=3))
    assert [e.state.seed for e in h.entries] == [0, 1, 3]
    assert not h.can_redo()


def test_limit_keeps_the_newest_steps():
    h = History(LatentState(), limit=3)
    for seed in range(1, 6):
        h.commit(LatentState(seed=seed))
    assert [e.state.seed for e in h.entries] == [3, 4, 5]
    assert h.current.seed == 5


def test_jump_and_reset():
    h = History(LatentState())
    for seed in (1, 2, 3):
        h.commit(LatentState(seed=seed))
    assert h.jump(1).seed == 1 and h.can_redo()
    h.reset(LatentState(seed=9), "model x")
    assert h.entries[0].label == "model x" and not h.can_undo()


def test_labels_name_what_changed():
    assert describe_change(LatentState(), LatentState(psi=0.7)) == "psi 0.7"
    label = describe_change(LatentState(), LatentState(seed=3, mix_weights=(1.0,)))
    assert "seed 3" in label and "mix weights" in label
    one = LatentState(edits=(DirectionEdit("pca", 0, 3.0),))
    assert describe_change(LatentState(), one) == "pca[0] +3.00"
    two = LatentState(edits=(DirectionEdit("pca", 0, 4.0), DirectionEdit("sefa", 2, -1.5, 4, 8)))
    assert describe_change(one, two) == "pca[0] +4.00, sefa[2] -1.50 rows 4-7"
    assert describe_change(two, LatentState(edits=(DirectionEdit("pca", 0, 4.0),))) == "sefa[2] off"
    assert describe_change(two, LatentState()) == "edits reset"
    layer = LatentState(view_layer="b16.conv0")
    assert describe_change(LatentState(), layer) == "view layer b16.conv0"
    assert describe_change(layer, LatentState()) == "view layer off"  # not "view layer None"


def test_rewrite_changes_every_step_merges_equal_neighbours_and_keeps_the_place():
    h = History(LatentState())
    for state in (LatentState(seed=1), LatentState(seed=1, psi=0.5), LatentState(seed=2, psi=0.5)):
        h.commit(state)
    h.undo()  # on (seed 1, psi 0.5)
    h.rewrite(lambda s: s.replace(psi=1.0))  # step 2 now equals step 1
    assert [e.state for e in h.entries] == [LatentState(), LatentState(seed=1), LatentState(seed=2)]
    assert h.current == LatentState(seed=1) and h.redo() == LatentState(seed=2)
