"""Tables: mean ± std over seeds on a hand-written CSV, paper order, improvement vs input, Markdown/rich."""

import pytest

from handprior.reporting.results import read_rows
from handprior.reporting.table import display_name, summarize, table, to_markdown

HEADER = "timestamp,run_id,group,method,seed,dataset,split,metric,value,unit,config,git_sha\n"
# Two seeds of "ours" (HandPriorNet), one of Gaussian1d, a custom method, the input written by every run
# (seed 1 twice: once by each method's run -> averaged within the seed), and a val row that must be ignored.
LINES = """\
t,a,g,input,1,synthetic,test,mpjpe,10.0,mm,c,s
t,a,g,input,1,synthetic,test,accel,8.0,mm/frame^2,c,s
t,a,g,HandPriorNet,1,synthetic,test,mpjpe,6.0,mm,c,s
t,a,g,HandPriorNet,1,synthetic,test,accel,4.0,mm/frame^2,c,s
t,a,g,HandPriorNet,1,synthetic,test,mpvpe,7.0,mm,c,s
t,a,g,HandPriorNet,1,synthetic,test,mpvpe_joints,12.0,mm,c,s
t,b,g,input,2,synthetic,test,mpjpe,12.0,mm,c,s
t,b,g,input,2,synthetic,test,accel,8.0,mm/frame^2,c,s
t,b,g,HandPriorNet,2,synthetic,test,mpjpe,8.0,mm,c,s
t,b,g,HandPriorNet,2,synthetic,test,accel,6.0,mm/frame^2,c,s
t,b,g,HandPriorNet,2,synthetic,test,mpvpe,9.0,mm,c,s
t,b,g,HandPriorNet,2,synthetic,test,mpvpe_joints,14.0,mm,c,s
t,c,g,input,1,synthetic,test,mpjpe,10.0,mm,c,s
t,c,g,input,1,synthetic,test,accel,8.0,mm/frame^2,c,s
t,c,g,Gaussian1d,1,synthetic,test,mpjpe,9.9,mm,c,s
t,c,g,Gaussian1d,1,synthetic,test,accel,5.5,mm/frame^2,c,s
t,d,other,zzz-variant,1,synthetic,test,mpjpe,5.5,mm,c,s
t,b,g,HandPriorNet,2,synthetic,val,mpjpe,100.0,mm,c,s
"""


@pytest.fixture
def results_csv(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text(HEADER + LINES)
    return path


def test_mean_std_over_seeds_and_improvement(results_csv):
    rows = summarize(read_rows(results_csv))
    assert [r.method for r in rows] == ["input", "Gaussian1d", "ours", "zzz-variant"]
    by = {r.method: r for r in rows}
    ours = by["ours"].stats
    assert ours["mpjpe"].mean == pytest.approx(7.0) and ours["mpjpe"].std == pytest.approx(2**0.5)
    assert ours["accel"].mean == pytest.approx(5.0) and ours["mpvpe"].mean == pytest.approx(8.0)
    assert ours["mpvpe_joints"].mean == pytest.approx(13.0)  # the second MPVPE, a column of its own
    assert ours["mpjpe"].n == 2 and by["ours"].seeds == 2
    inp = by["input"].stats
    assert inp["mpjpe"].mean == pytest.approx(11.0) and inp["mpjpe"].n == 2  # seed 1 counted once
    assert inp["accel"].std == pytest.approx(0.0)
    assert by["ours"].improvement["mpjpe"] == pytest.approx(100 * (11 - 7) / 11)
    assert by["ours"].improvement["accel"] == pytest.approx(100 * (8 - 5) / 8)
    assert by["Gaussian1d"].stats["mpjpe"].n == 1 and by["Gaussian1d"].stats["mpjpe"].std == 0.0
    assert by["input"].improvement == {}
    assert "val" not in {r.method for r in rows}


def test_group_filter(results_csv):
    assert [r.method for r in summarize(read_rows(results_csv), group="other")] == ["zzz-variant"]


def test_markdown_cells(results_csv):
    text = to_markdown(summarize(read_rows(results_csv)))
    lines = text.strip().splitlines()
    header = "| method | seeds | MPJPE | MPVPE | MPVPE (joints) | Accel | Bone CV % | MPJPE gain | Accel gain |"
    assert lines[0] == header
    assert lines[2] == "| input | 2 | 11.00 ± 1.41 | - | - | 8.00 ± 0.00 | - | - | - |"
    assert lines[4] == "| ours | 2 | 7.00 ± 1.41 | 8.00 ± 1.41 | 13.00 ± 1.41 | 5.00 ± 1.41 | - | +36.4% | +37.5% |"
    assert lines[3] == "| Gaussian1d | 1 | 9.90 | - | - | 5.50 | - | +10.0% | +31.2% |"


def test_several_datasets_get_a_column(results_csv):
    with results_csv.open("a") as handle:
        handle.write("t,e,g,input,1,arctic,test,mpjpe,20.0,mm,c,s\n")
    rows = summarize(read_rows(results_csv))
    assert rows[0].dataset == "arctic"
    assert to_markdown(rows).startswith("| dataset | method |")


def test_table_command_prints_and_writes(results_csv, tmp_path, capsys):
    out = tmp_path / "docs" / "table.md"
    table(str(results_csv), markdown=True, output=str(out))
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "| ours | 2 |" in printed
    table(str(results_csv))
    assert "MPJPE" in capsys.readouterr().out


def test_display_names():
    assert display_name("SavitzkyGolay") == display_name("savitzky_golay") == "Savitzky-Golay"
    assert display_name("Identity") == "input"
    assert display_name("my-variant") == "my-variant"


def test_a_bones_mark_keeps_a_methods_live_or_offline_side():
    from handprior.reporting.live_offline import base_name, is_causal_method

    assert base_name("One-Euro+bones(min_cutoff=1, beta=0)") == "oneeuro"
    assert is_causal_method("One-Euro+bones(min_cutoff=1, beta=0)") and is_causal_method("Kalman+bones")
    assert not is_causal_method("Gaussian1d+bones(sigma=1.5)") and not is_causal_method("ours+bones")
