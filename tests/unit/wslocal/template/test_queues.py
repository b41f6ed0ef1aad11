"""Queues are created dead-letter queues first, since SQS checks a redrive target."""

from wslocal.template import QueueModel
from wslocal.template.queues import creation_order


def queue(name, dead_letter=None):
    return QueueModel(name, name, {}, dead_letter_queue=dead_letter, max_receive_count=3)


def test_a_dead_letter_queue_is_created_before_the_queue_that_names_it():
    ordered = creation_order((queue("work", "dead"), queue("dead", "final"), queue("final")))
    assert [q.queue_name for q in ordered] == ["final", "dead", "work"]


def test_a_target_outside_the_template_does_not_stop_the_others():
    ordered = creation_order((queue("work", "elsewhere"), queue("plain")))
    assert sorted(q.queue_name for q in ordered) == ["plain", "work"]
