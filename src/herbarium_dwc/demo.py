"""Demo sheets the project draws itself, with their true values.

The default configuration runs on these, so a fresh checkout can show the
whole workflow with no data of its own: each sheet is a plain mounting sheet
with a drawn plant and a typed label, and truth.csv holds what the label says.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# What each demo label says. Invented collectors and numbers; real places.
DEMO_LABELS: tuple[dict[str, str], ...] = (
    {
        "specimen_id": "demo-0001",
        "catalogNumber": "00412087",
        "scientificName": "Carex bebbii Olney ex Fernald",
        "recordedBy": "M. A. Larsen",
        "recordNumber": "1187",
        "eventDate": "1987-06-14",
        "verbatimEventDate": "14 June 1987",
        "country": "Canada",
        "stateProvince": "Saskatchewan",
        "county": "",
        "locality": "Cypress Hills, 3 km S of Maple Creek",
        "habitat": "Wet meadow along creek",
        "verbatimCoordinates": "49°52'N 109°29'W",
        "verbatimElevation": "1050 m",
    },
    {
        "specimen_id": "demo-0002",
        "catalogNumber": "00398114",
        "scientificName": "Solidago canadensis L.",
        "recordedBy": "J. R. Whitcombe",
        "recordNumber": "342",
        "eventDate": "1962-09-02",
        "verbatimEventDate": "2 Sept. 1962",
        "country": "United States of America",
        "stateProvince": "Vermont",
        "county": "Chittenden",
        "locality": "Shelburne, roadside near Lake Champlain",
        "habitat": "Dry open field",
        "verbatimCoordinates": "",
        "verbatimElevation": "",
    },
    {
        "specimen_id": "demo-0003",
        "catalogNumber": "00500273",
        "scientificName": "Quercus macrocarpa Michx.",
        "recordedBy": "E. Novak",
        "recordNumber": "77",
        "eventDate": "2004-08-21",
        "verbatimEventDate": "21 Aug 2004",
        "country": "United States of America",
        "stateProvince": "Minnesota",
        "county": "Hennepin",
        "locality": "Minnehaha Falls Park",
        "habitat": "Oak savanna on sandy soil",
        "verbatimCoordinates": "44°54'55\"N 93°12'40\"W",
        "verbatimElevation": "250 m",
    },
    {
        "specimen_id": "demo-0004",
        "catalogNumber": "00117650",
        "scientificName": "Vaccinium oxycoccos L.",
        "recordedBy": "K. Sato",
        "recordNumber": "2210",
        "eventDate": "1995-07-30",
        "verbatimEventDate": "30 July 1995",
        "country": "Canada",
        "stateProvince": "Ontario",
        "county": "",
        "locality": "Algonquin Park, Mizzy Lake trail",
        "habitat": "Sphagnum bog",
        "verbatimCoordinates": "45°32'N 78°44'W",
        "verbatimElevation": "420 m",
    },
    {
        "specimen_id": "demo-0005",
        "catalogNumber": "00233901",
        "scientificName": "Achillea millefolium L.",
        "recordedBy": "D. Ferreira",
        "recordNumber": "58",
        "eventDate": "1978-05-09",
        "verbatimEventDate": "9 May 1978",
        "country": "United States of America",
        "stateProvince": "Oregon",
        "county": "Benton",
        "locality": "Marys Peak, upper meadows",
        "habitat": "Grassy bald",
        "verbatimCoordinates": "",
        "verbatimElevation": "1200 m",
    },
)

TRUTH_COLUMNS = tuple(k for k in DEMO_LABELS[0] if k != "specimen_id")


def _label_lines(values: dict[str, str]) -> list[tuple[str, int]]:
    place = ", ".join(v for v in (values["stateProvince"], values["country"]) if v)
    county = f"{values['county']} County" if values["county"] else ""
    lines = [
        ("HERBARIUM-DWC DEMONSTRATION HERBARIUM", 45),
        (f"PLANTS OF {values['stateProvince'].upper()}", 51),
        (values["scientificName"], 60),
        (", ".join(v for v in (county, place) if v), 45),
        (values["locality"], 45),
        (values["habitat"], 45),
    ]
    where = "   ".join(
        v for v in (values["verbatimCoordinates"], values["verbatimElevation"]) if v
    )
    if where:
        lines.append((where, 45))
    lines.append((f"{values['recordedBy']} {values['recordNumber']}", 48))
    lines.append((values["verbatimEventDate"], 48))
    return lines


def _draw_plant(draw: ImageDraw.ImageDraw, rng: random.Random, width: int) -> None:
    green = (58, 92, 48)
    x, y = width // 2 + rng.randint(-150, 150), 2350
    for _ in range(3):
        tip = (x + rng.randint(-300, 300), rng.randint(250, 500))
        draw.line([(x, y), tip], fill=green, width=9)
        for step in range(1, 8):
            px = x + (tip[0] - x) * step // 8
            py = y + (tip[1] - y) * step // 8
            side = 1 if step % 2 else -1
            draw.ellipse(
                [px, py - 18, px + side * 110, py + 18]
                if side > 0
                else [px - 110, py - 18, px, py + 18],
                fill=green,
            )


def render_sheet(values: dict[str, str], seed: int) -> Image.Image:
    """Draw one demo sheet: a plant and a typed label in the lower right."""
    rng = random.Random(seed)
    width, height = 2400, 3600
    sheet = Image.new("RGB", (width, height), (244, 240, 228))
    draw = ImageDraw.Draw(sheet)
    _draw_plant(draw, rng, width)
    left, top = 700, 2500
    draw.rectangle(
        [left, top, width - 60, height - 60],
        fill=(252, 252, 248),
        outline=(40, 40, 40),
        width=3,
    )
    y = top + 30
    for text, size in _label_lines(values):
        font = ImageFont.load_default(size=size)
        # Word by word with a wide gap: OCR models join words set in the
        # default font's narrow spaces, which real typed labels do not have.
        x = left + 30
        for word in text.split():
            draw.text((x, y), word, fill=(20, 20, 20), font=font)
            x += int(draw.textlength(word, font=font) + size * 0.6)
        y += int(size * 1.45)
    barcode_font = ImageFont.load_default(size=44)
    draw.rectangle([80, 3250, 520, 3450], fill=(255, 255, 255), outline=(0, 0, 0))
    for i in range(40):
        if rng.random() > 0.4:
            draw.rectangle([100 + i * 10, 3270, 105 + i * 10, 3370], fill=(0, 0, 0))
    draw.text((110, 3385), values["catalogNumber"], fill=(0, 0, 0), font=barcode_font)
    return sheet


def write_demo(folder: str | Path) -> list[Path]:
    """Render every demo sheet into ``folder/images`` and write ``folder/truth.csv``.

    :returns: the image paths written.
    """
    out = Path(folder)
    (out / "images").mkdir(parents=True, exist_ok=True)
    written = []
    for seed, values in enumerate(DEMO_LABELS):
        path = out / "images" / f"{values['specimen_id']}.jpg"
        render_sheet(values, seed).save(path, quality=88)
        written.append(path)
    with open(out / "truth.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["specimen_id", *TRUTH_COLUMNS])
        writer.writeheader()
        writer.writerows(DEMO_LABELS)
    return written
