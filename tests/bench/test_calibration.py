"""The coverage/precision curve and the calibrated threshold, on scores whose answer is known."""

from dglsp.bench.calibration import calibrate, point_at, table

# Ten tasks: the five highest scores pass but one, the rest fail.
SCORED = [(0.95, True), (0.9, True), (0.85, False), (0.8, True), (0.75, True), (0.7, True)]
SCORED += [(0.6, False), (0.5, False), (0.4, False), (0.3, False)]


def test_the_curve_counts_what_each_threshold_shows():
    c = calibrate("default", SCORED, target=0.8, min_passed=3)
    assert [p.threshold for p in c.curve] == sorted((s for s, _ in SCORED), reverse=True)
    assert [p.shown for p in c.curve] == list(range(1, 11))
    assert [p.passed for p in c.curve] == [1, 2, 2, 3, 4, 5, 5, 5, 5, 5]
    assert c.pass_at_1 == 0.5 and c.curve[-1].coverage == 1.0 and c.curve[-1].precision == 0.5


def test_the_threshold_is_the_lowest_that_meets_the_target_with_enough_passes():
    c = calibrate("default", SCORED, target=0.8, min_passed=3)
    # At 0.7: 5 of 6 shown pass (83%); at 0.6, 5 of 7 (71%) misses the target.
    assert (c.threshold, c.met) == (0.7, True)
    assert (c.at_threshold.shown, c.at_threshold.passed, c.at_threshold.coverage) == (6, 5, 0.6)
    # 100% precision at 0.9 is two passes: too few to count as evidence when five are asked for.
    assert calibrate("default", SCORED, target=0.95, min_passed=2).threshold == 0.9
    assert calibrate("default", SCORED, target=0.95, min_passed=5).threshold == 1.0


def test_a_model_that_is_rarely_right_gets_a_threshold_that_shows_nothing():
    c = calibrate("default", [(0.9, True), *((0.8, False),) * 199], target=0.5)
    assert (c.threshold, c.met, c.at_threshold.shown) == (1.0, False, 0)
    assert c.record()["pass_at_1"] == 0.005 and "target not met" in table([c])


def test_the_table_reads_the_curve_at_fixed_thresholds():
    c = calibrate("default", SCORED, target=0.8, min_passed=3)
    assert point_at(c, 0.72).shown == 5 and point_at(c, 0.99).shown == 0 and point_at(c, 0.0).shown == 10
    lines = table([c]).splitlines()
    assert any(line.split()[:2] == ["default", "0.7000*"] for line in lines)
