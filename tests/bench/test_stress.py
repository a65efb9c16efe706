"""The short stress run CI does: fuzz, heavy documents and a soak against the real server, with no defect."""

from dglsp.bench import stress


def test_a_short_stress_run_finds_no_crash_hang_or_error(dg_dir):
    options = {"model": str(dg_dir), "sampler": {"max_steps": 4}, "parseTrim": False}
    phases = [
        stress.fuzz(options, cases=40, progress=False),
        stress.heavy(options, progress=False),
        stress.soak(options, requests=80, minutes=3, progress=False, sample_every=10),
    ]
    for phase in phases:
        assert (phase.crashes, phase.hangs, phase.errors) == (0, 0, 0), (phase.name, phase.notes)
    fuzz, heavy, soak = phases
    assert fuzz.cases == 40 and heavy.cases == 8 and soak.cases == 80
    # Each heavy case was answered: an item list or a clear error, never silence.
    assert all(("item(s)" in note or "error -326" in note) for note in heavy.notes), heavy.notes
    assert len(soak.latencies) > 20 and soak.rss_mb
    # Sampled from the server's own footprint; nothing left pending once the traffic stops.
    last = soak.footprints[-1]
    assert last["requests"] == 80 and last["threads"] > 1 and last["open_files"] > 2
    assert (last["handlers"], last["client_requests"]) == (0, 0) and 1 <= last["documents"] <= 4
    assert len(soak.rss_mb) == 9 and "rss_slope_mb_per_1000" in soak.summary()
    assert "| fuzz" in stress.table(phases)


def test_a_server_told_to_exit_is_gone_not_hung(dg_dir):
    """pygls closes stdout before the interpreter winds down (about a second with torch loaded): the probe must
    wait for the exit rather than call the silence a hang."""
    server = stress.Server({"model": str(dg_dir)})
    try:
        server.wait_ready()
        assert server.probe() == "ok"
        server.wire.notify("exit", None)
        assert server.probe() == "crash" and server.wire.proc.returncode == 1  # exit without shutdown: 1, per LSP
    finally:
        server.close()
