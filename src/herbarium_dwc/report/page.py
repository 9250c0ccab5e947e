"""The report page: one self-contained HTML file drawn from report.json data.

No script, no font, no stylesheet or image is fetched: styles are inline,
charts are inline SVG, thumbnails are data URIs, and a Content Security
Policy forbids every other source, so the page reads the same offline, in
an e-mail attachment or from a cluster's file system.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any

from herbarium_dwc.report import charts
from herbarium_dwc.status import duration

_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d0d7de;
  --ok: #009E73; --bad: #D55E00; --warn: #E69F00; --blue: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #f6f8fa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 19px; margin: 32px 0 10px; }
h3 { font-size: 15px; margin: 0 0 8px; }
section.panel, .card, figure { background: #fff; border: 1px solid var(--line);
  border-radius: 8px; }
section.panel { padding: 14px 18px; }
.verdict li { margin: 4px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
  gap: 10px; margin-top: 18px; }
.card { padding: 10px 14px; }
.card .value { font-size: 22px; font-weight: 650; }
.card .label { color: var(--muted); font-size: 13px; }
.card.ok .value { color: var(--ok); } .card.bad .value { color: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(500px, 1fr));
  gap: 14px; }
figure { margin: 0; padding: 12px 14px; overflow-x: auto; }
figcaption { font-weight: 600; margin-bottom: 8px; }
figcaption span { font-weight: 400; color: var(--muted); font-size: 13px; }
svg.chart { max-width: 100%; height: auto; display: block; }
figure.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2;
  vertical-align: top; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.pill { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px;
  background: #eef1f4; margin: 1px 2px 1px 0; }
.pill.bad { background: #fbe3d6; color: #8a3200; }
.pill.warn { background: #fdf1d3; color: #6b4a00; }
.review { display: grid; gap: 12px; }
.item { display: grid; grid-template-columns: 180px 1fr; gap: 14px; padding: 12px;
  background: #fff; border: 1px solid var(--line); border-radius: 8px; }
.item img, .item .noimg { width: 180px; max-height: 240px; object-fit: contain;
  border-radius: 4px; background: #eef1f4; }
.item .noimg { height: 120px; display: flex; align-items: center;
  justify-content: center; color: var(--muted); font-size: 13px; }
.item h3 { margin: 0 0 4px; font-family: ui-monospace, monospace; font-size: 14px; }
.item table td { padding: 2px 6px; font-size: 13px; }
.item td.term { color: var(--muted); white-space: nowrap; width: 1%; }
.lowconf { background: #fdf1d3; }
.flagged { background: #fbe3d6; }
footer { margin-top: 36px; color: var(--muted); font-size: 13px; }
@media print { body { background: #fff; } .charts { display: block; }
  figure, .item { break-inside: avoid; margin-bottom: 10px; } }
"""


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """``1 record``, ``3 records``: a count with its noun."""
    word = noun if count == 1 else plural or noun + "s"
    return f"{count:,} {word}"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return (
        "-" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"
    )


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    return f"${value:,.4f}" if value < 10 else f"${value:,.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return duration(seconds)


def _stamp(text: str | None) -> float:
    return datetime.fromisoformat(text).timestamp() if text else 0.0


def _period(first: str | None, last: str | None) -> str:
    if not first or not last:
        return "no times recorded"
    start, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
    if start.date() == end.date():
        return f"{start:%d %b %Y, %H:%M}-{end:%H:%M} UTC"
    return f"{start:%d %b %Y %H:%M} to {end:%d %b %Y %H:%M} UTC"


def _period_stamp(text: str | None) -> str:
    return f"{datetime.fromisoformat(text):%d %b %Y %H:%M} UTC" if text else "-"


def _verdict(data: dict[str, Any]) -> str:
    """The few sentences a data manager reads before anything else."""
    summary = data["summary"]
    records, ok, failed = summary["records"], summary["ok"], summary["failed"]
    lines = []
    share = ok / records if records else 0.0
    lines.append(
        f"<b>{ok:,}</b> of {records:,} specimens were read ({_pct(share)}); "
        f"<b>{failed:,}</b> failed"
        + (
            " ("
            + ", ".join(f"{n:,} {_e(k)}" for k, n in summary["failed_by_kind"].items())
            + ")"
            if failed
            else ""
        )
        + "."
    )
    if summary.get("pending"):
        lines.append(
            f"{_n(summary['pending'], 'specimen')} of the configured range "
            f"{'has' if summary['pending'] == 1 else 'have'} no record yet; run the "
            "workflow again to finish them."
        )
    fields = [f for f in data["fields"] if f["filled"]]
    if fields and ok:
        best = sorted(fields, key=lambda f: -f["fill_rate"])[:3]
        lines.append(
            "Best-filled fields: "
            + ", ".join(f"{_e(f['term'])} {_pct(f['fill_rate'])}" for f in best)
            + "."
        )
    empty = [f["term"] for f in data["fields"] if not f["filled"]]
    if empty and ok:
        lines.append(
            f"{len(empty)} of {len(data['fields'])} fields were never filled: "
            + ", ".join(_e(t) for t in empty[:8])
            + (", …" if len(empty) > 8 else ".")
        )
    evaluation = data.get("evaluation")
    if evaluation and evaluation.get("fields"):
        rated = [
            (term, row["accuracy"])
            for term, row in evaluation["fields"].items()
            if row.get("accuracy") is not None
        ]
        if rated:
            rated.sort(key=lambda item: -item[1])
            lines.append(
                f"Against ground truth ({evaluation.get('specimens_compared', 0):,} "
                f"specimens), the most accurate field is {_e(rated[0][0])} "
                f"({_pct(rated[0][1])}) and the least {_e(rated[-1][0])} "
                f"({_pct(rated[-1][1])})."
            )
    review = data["review"]
    if review["worth_a_look"]:
        why = review["by_reason"]
        parts = [
            f"{why['failed']:,} failed",
            f"{why['low_confidence']:,} with a value below confidence "
            f"{review['settings']['low_confidence']:.2f}",
            f"{why['flagged']:,} flagged by normalisation",
            f"{why['empty']:,} with no value at all",
        ]
        lines.append(
            f"<b>{review['worth_a_look']:,}</b> "
            f"{'record is' if review['worth_a_look'] == 1 else 'records are'} "
            f"worth a human look: {'; '.join(parts)} (a record can be in "
            f"several). The {len(review['shown'])} most urgent are under "
            '<a href="#review">Review list</a>.'
        )
    else:
        lines.append("No record needs a human look by the report's rules.")
    return (
        "<ul class='verdict'>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"
    )


def _cards(data: dict[str, Any]) -> str:
    summary = data["summary"]
    tokens = summary["prompt_tokens"] + summary["completion_tokens"]
    cards = [
        ("", f"{summary['records']:,}", "specimens with a record"),
        ("ok", f"{summary['ok']:,}", "ok"),
        ("bad" if summary["failed"] else "", f"{summary['failed']:,}", "failed"),
    ]
    if summary.get("pending") is not None:
        cards.append(("", f"{summary['pending']:,}", "pending"))
    cards += [
        ("", _duration(summary["wall_s"]), "wall time, first to last record"),
        ("", f"{tokens:,}", "tokens"),
        ("", _money(summary["cost_usd"]), "cost"),
        ("", _money(summary["cost_per_specimen_usd"]), "cost per specimen"),
    ]
    return (
        "<div class='cards'>"
        + "".join(
            f"<div class='card {cls}'><div class='value'>{_e(value)}</div>"
            f"<div class='label'>{_e(label)}</div></div>"
            for cls, value, label in cards
        )
        + "</div>"
    )


def _figure(title: str, note: str, svg: str, wide: bool = False) -> str:
    span = f" <span>{_e(note)}</span>" if note else ""
    cls = " class='wide'" if wide else ""
    return f"<figure{cls}><figcaption>{_e(title)}{span}</figcaption>{svg}</figure>"


def _charts(data: dict[str, Any]) -> str:
    summary = data["summary"]
    figures = []
    fill = [(f["term"], f["fill_rate"], _pct(f["fill_rate"])) for f in data["fields"]]
    figures.append(
        _figure(
            "Fill rate per field",
            f"share of the {summary['ok']:,} ok records with a value",
            charts.hbar_chart("fill-rate", "Fill rate per field", fill, 1.0),
            wide=len(fill) > 20,
        )
    )
    evaluation = data.get("evaluation")
    if evaluation and evaluation.get("fields"):
        rows = [
            (term, row["accuracy"], f"{_pct(row['accuracy'])} of {row['n_truth']}")
            for term, row in evaluation["fields"].items()
            if row.get("accuracy") is not None
        ]
        figures.append(
            _figure(
                "Accuracy per field",
                "exact match with ground truth, where truth has a value",
                charts.hbar_chart(
                    "accuracy", "Accuracy per field", rows, 1.0, charts.GREEN
                ),
            )
        )
    kinds = summary["failed_by_kind"]
    failures = (
        charts.hbar_chart(
            "failures",
            "Failures by kind",
            [(k, n, f"{n:,}") for k, n in kinds.items()],
            colour=charts.RED,
        )
        if kinds
        else charts.empty_chart("failures", "Failures by kind", "no failures")
    )
    figures.append(_figure("Failures by kind", "failed records", failures))
    timeline = data["timeline"]
    rows = timeline["rows"]
    starts = [_stamp(row["start"]) for row in rows]
    bucket = timeline["bucket_s"] or 1
    figures.append(
        _figure(
            "Throughput over time",
            f"records finished per {_duration(bucket)} (UTC)",
            charts.time_bars(
                "throughput",
                "Records finished over time",
                starts,
                [
                    ("ok", charts.BLUE, [row["ok"] for row in rows]),
                    ("failed", charts.RED, [row["failed"] for row in rows]),
                ],
                bucket,
            ),
        )
    )
    cost_note = (
        "cumulative, from the records' usage"
        if summary["cost_usd"]
        else "this engine reports no cost"
    )
    cost_chart = (
        charts.line_chart(
            "cost",
            "Cumulative cost over time",
            starts,
            [row["cumulative_cost_usd"] for row in rows],
            bucket,
            unit="$",
        )
        if summary["cost_usd"]
        else charts.empty_chart(
            "cost", "Cumulative cost over time", "no cost reported by this engine"
        )
    )
    figures.append(_figure("Cost over time", cost_note, cost_chart))
    return "<div class='charts'>" + "".join(figures) + "</div>"


def _fields_table(data: dict[str, Any]) -> str:
    evaluation = (data.get("evaluation") or {}).get("fields") or {}
    head = (
        "<tr><th>field</th><th class='num'>filled</th><th class='num'>fill rate</th>"
        "<th class='num'>median confidence</th><th class='num'>10th percentile</th>"
        "<th>confidence distribution</th>"
        + ("<th class='num'>accuracy</th>" if evaluation else "")
        + "</tr>"
    )
    rows = []
    never = [
        f["term"]
        for f in data["fields"]
        if not f["filled"] and f["term"] not in evaluation
    ]
    for field in data["fields"]:
        if field["term"] in never:
            continue
        conf = field["confidence"]
        cells = [
            f"<td>{_e(field['term'])}</td>",
            f"<td class='num'>{field['filled']:,}</td>",
            f"<td class='num'>{_pct(field['fill_rate'])}</td>",
        ]
        if conf:
            cells += [
                f"<td class='num'>{conf['median']:.2f}</td>",
                f"<td class='num'>{conf['p10']:.2f}</td>",
                "<td>"
                + charts.histogram(
                    f"confidence-{field['term']}",
                    f"Confidence of {field['term']}",
                    conf["histogram"],
                )
                + "</td>",
            ]
        else:
            cells += ["<td class='num muted'>-</td>"] * 2 + [
                "<td class='muted'>no confidence from the engine</td>"
            ]
        if evaluation:
            row = evaluation.get(field["term"])
            accuracy = row.get("accuracy") if row else None
            cells.append(f"<td class='num'>{_pct(accuracy)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    rest = (
        f"<p class='muted'>Never filled: {_e(', '.join(never))}.</p>" if never else ""
    )
    return f"<table>{head}{''.join(rows)}</table>{rest}"


def _counts_table(title: str, counts: dict[str, int], empty: str) -> str:
    if not counts:
        return f"<p class='muted'>{_e(empty)}</p>"
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td class='num'>{n:,}</td></tr>"
        for k, n in counts.items()
    )
    return (
        f"<table><tr><th>{_e(title)}</th><th class='num'>count</th></tr>{rows}</table>"
    )


def _failures(data: dict[str, Any]) -> str:
    examples = data["failure_examples"]
    if not examples:
        return "<p class='muted'>No specimen failed.</p>"
    rows = []
    for kind, items in examples.items():
        for item in items:
            rows.append(
                f"<tr><td><span class='pill bad'>{_e(kind)}</span></td>"
                f"<td>{_e(item['specimen_id'])}</td><td>{_e(item['message'])}</td></tr>"
            )
    return (
        "<table><tr><th>kind</th><th>specimen</th><th>message</th></tr>"
        + "".join(rows)
        + "</table><p class='muted'>Up to five examples per kind. Fix the cause, "
        "then <code>herbarium-dwc retry-failed RESULTS --kind KIND</code> and run "
        "the workflow again.</p>"
    )


def _requests(data: dict[str, Any]) -> str:
    requests = data.get("requests")
    if not requests:
        return ""
    failed = requests["failed_attempts_by_kind"]
    tokens = requests["prompt_tokens"] + requests["completion_tokens"]
    return (
        "<h2>Requests</h2><section class='panel'><p>"
        f"{requests['attempts']:,} request attempts; "
        f"{_n(requests['retried_specimens'], 'specimen')} needed more than one. "
        f"All attempts together used {tokens:,} tokens and cost "
        f"{_money(requests['cost_usd'])} (failed attempts included, "
        "so this can exceed the records' total).</p>"
        + _counts_table("failed attempts", failed, "No attempt failed.")
        + "</section>"
    )


def _source(item: dict[str, Any]) -> str:
    """The image path, linked to the full image when its address is known."""
    if item.get("source_uri"):
        return f"<a href='{_e(item['source_uri'])}'>{_e(item['source'])}</a>"
    return _e(item["source"])


def _review_item(item: dict[str, Any], thumb: str | None, low: float) -> str:
    image = (
        f"<img alt='{_e(item['specimen_id'])}' src='{thumb}'>"
        if thumb
        else "<div class='noimg'>no preview</div>"
    )
    pills = "".join(
        f"<span class='pill {'bad' if why.startswith('failed') else 'warn'}'>"
        f"{_e(why)}</span>"
        for why in item["reasons"]
    )
    flagged = {flag.partition(":")[0] for flag in item["flags"]}
    rows = []
    if item["failure"]:
        message = _e(item["failure"]["message"])
        rows.append(f"<tr><td class='term'>message</td><td>{message}</td></tr>")
    for term, value in item["values"].items():
        if not value:
            continue
        conf = item["confidence"].get(term)
        cls = (
            "flagged"
            if term in flagged
            else "lowconf"
            if conf is not None and conf < low
            else ""
        )
        shown = f" <span class='muted'>({conf:.2f})</span>" if conf is not None else ""
        rows.append(
            f"<tr class='{cls}'><td class='term'>{_e(term)}</td>"
            f"<td>{_e(value)}{shown}</td></tr>"
        )
    if item["flags"]:
        rows.append(
            "<tr><td class='term'>flags</td><td>"
            + "".join(f"<span class='pill'>{_e(f)}</span>" for f in item["flags"])
            + "</td></tr>"
        )
    if not rows:
        rows.append("<tr><td class='muted'>no values</td></tr>")
    return (
        f"<div class='item'>{image}<div><h3>{_e(item['specimen_id'])}</h3>"
        f"<div>{pills}</div><div class='muted'>{_source(item)}</div>"
        f"<table>{''.join(rows)}</table></div></div>"
    )


def render_page(data: dict[str, Any], thumbnail: Callable[[str], str | None]) -> str:
    """Return the report page for ``data`` (what report.json holds).

    :param data: the report data from
        :func:`herbarium_dwc.report.summary.build_report_data`.
    :param thumbnail: gives the data URI of an image path, or None.
    :returns: the whole HTML document.
    """
    summary = data["summary"]
    engines = ", ".join(
        f"{e['kind']} / {e['model']} ({e['records']:,})" for e in summary["engines"]
    )
    review = data["review"]
    low = review["settings"]["low_confidence"]
    items = "".join(
        _review_item(item, thumbnail(item["source"]), low) for item in review["shown"]
    )
    period = _period(summary["started_at"], summary["finished_at"])
    flags = data["flags"]
    by_kind = _counts_table("flag kind", flags["by_kind"], "No flags.")
    by_term = _counts_table("field", flags["by_term"], "No field was flagged.")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Quality report: {_e(data["run"])}</title>
<style>{_CSS}</style></head>
<body><main>
<header><h1>Quality report</h1>
<p>Run <b>{_e(data["run"])}</b> · {_e(engines or "no engine recorded")} ·
{_e(period)} · report made {_e(_period_stamp(data.get("generated_at")))}</p>
</header>
{_cards(data)}
<h2>In short</h2><section class="panel">{_verdict(data)}</section>
<h2>Charts</h2>{_charts(data)}
<h2>Fields</h2>
<p class="muted">Fill rate counts ok records with a value. Confidence is what the
engine reported for a value (0-1), where it reports one.</p>
{_fields_table(data)}
<h2>Flags from normalisation</h2>
<p class="muted">{_n(flags["records_flagged"], "record")}
{"carries" if flags["records_flagged"] == 1 else "carry"} at least one flag.
A flag says what normalisation changed or could not check.</p>
<div class="charts"><div>{by_kind}</div><div>{by_term}</div></div>
<h2>Failures</h2>{_failures(data)}
{_requests(data)}
<h2 id="review">Review list</h2>
<p class="muted">The {len(review["shown"])} records most worth a human look, of
{review["worth_a_look"]:,}: failed first (at most half the list when others need a
look too), then the lowest confidence (below {low:.2f}), the most flags and empty
records. Shaded values: <span class="pill warn">low confidence</span>
<span class="pill bad">flagged</span>.</p>
<div class="review">{items or "<p class='muted'>Nothing to review.</p>"}</div>
<footer>Made by herbarium-dwc from the per-specimen records and the event log.
The same figures are in report.json beside this page.</footer>
</main></body></html>
"""
