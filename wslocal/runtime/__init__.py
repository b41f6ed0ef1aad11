"""The Lambda runtime: long-lived worker processes (one per concurrent execution of a
function), the bootstrap each runs, and the frames they exchange with the stage."""
