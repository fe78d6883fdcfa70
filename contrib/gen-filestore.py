#!/usr/bin/env python3
"""An Odoo-like filestore, generated deterministically, for the benchmarks.

    contrib/gen-filestore.py DIR LIST.tsv [--scale S] [--seed N] [--jobs J]

writes files into DIR (Odoo's layout: DIR/<sha1[:2]>/<sha1>, sha1 being the SHA-1 of the
content) and one line per file into LIST.tsv, tab-separated, for psql's \\copy:

    n  store_fname  checksum  file_size  mimetype  name

n counting from 1 in a fixed order. At scale 1: about 20,000 files and 5 GiB. Sizes: many
small (10-100 KiB), some medium (1-5 MiB), a few large (20-50 MiB). Half of the bytes are
incompressible (JPEG/PNG/PDF/zip-like: a magic number, then SHAKE-128 output), half are
text-like (CSV, HTML, XML, mail-like prose: slices of a generated text pool, which deflate
compresses about 4-8x). The same scale and seed give the same files, whatever the jobs.
"""

import argparse
import hashlib
import multiprocessing
import os
import random
import sys
import time

KIB = 1024
MIB = 1024 * KIB

# (class, files at scale 1, smallest, largest)
CLASSES = [
    ("large", 40, 20 * MIB, 50 * MIB),
    ("medium", 900, 1 * MIB, 5 * MIB),
    ("small", 19060, 10 * KIB, 100 * KIB),
]

# Incompressible kinds: (mimetype, extension, magic, name prefixes)
BINARY = [
    ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ["IMG_", "Photo_", "scan_"]),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n", ["image_", "Screenshot_", "logo_"]),
    ("application/pdf", "pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ["INV_", "Quotation_S", "BILL_"]),
    ("application/zip", "zip", b"PK\x03\x04", ["export_", "archive_"]),
]
# Text kinds: (mimetype, extension, pool, name prefixes)
TEXT = [
    ("text/csv", "csv", "csv", ["export_", "journal_items_", "stock_"]),
    ("text/html", "html", "html", ["report_", "mail_", "page_"]),
    ("application/xml", "xml", "xml", ["facturx_", "ubl_invoice_", "peppol_"]),
    ("text/plain", "txt", "txt", ["notes_", "log_", "Document_"]),
]

WORDS = (
    "the a to of and we you for is in on this please with our your be will it as that at by "
    "from are have can not all order invoice payment delivery customer regards has been would "
    "could should may if when so but or they these also only still again already today "
    "tomorrow next last first new same other more less one two three some any each several "
    "quotation product products price prices discount amount total balance account bank "
    "transfer reference date deadline week month year meeting call email message document "
    "attached contract agreement terms conditions warehouse stock shipment package pallet "
    "truck carrier address office team manager sales purchase accounting project task issue "
    "ticket request question answer update status confirmation confirmed validated cancelled "
    "sent received paid due overdue reminder feedback review approval budget forecast report "
    "analysis schedule planning installation training support service maintenance repair "
    "warranty return refund credit note tax rate currency lorem ipsum dolor sit amet "
    "consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna "
    "aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea "
    "commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat "
    "nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia"
).split()
PARTNERS = [
    f"{a} {b} {c}"
    for a in ["Acme", "Global", "Nordic", "Atlas", "Summit", "Pioneer", "Horizon", "Vertex",
              "Quantum", "Sterling", "Evergreen", "Northwind", "Contoso", "Fabrikam"]
    for b in ["Consulting", "Logistics", "Foods", "Construction", "Software", "Trading"]
    for c in ["SA", "SRL", "GmbH", "BV", "Ltd", "Inc."]
]
PRODUCTS = ["Chair", "Desk", "Lamp", "Cabinet", "Shelf", "Table", "Drawer", "Sofa", "Monitor",
            "Keyboard", "Mouse", "Headset", "Printer", "Cable", "Adapter", "Router", "Notebook",
            "Service Hour", "Consulting Day", "Training", "Support Plan", "Subscription"]
CITIES = ["Brussels", "Antwerp", "Ghent", "Paris", "Lyon", "Berlin", "Hamburg", "Amsterdam",
          "Rotterdam", "Madrid", "Rome", "Milan", "London", "Dublin", "Lisbon", "Vienna"]
STATES = ["draft", "posted", "cancel", "paid", "in_payment", "not_paid"]


def pool_csv(rng, size):
    out = ["id,date,move_name,journal,account,company,partner,product,quantity,price_unit,"
           "amount_total,currency,state\n"]
    n = 0
    total = 0
    while total < size:
        n += 1
        qty = rng.randint(1, 50)
        price = rng.randint(100, 200000) / 100
        line = (f"{n},{2019 + rng.randrange(6)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d},"
                f"INV/{2019 + rng.randrange(6)}/{rng.randrange(100000):05d},Customer Invoices,"
                f"400000 Product Sales,My Company (San Francisco),\"{rng.choice(PARTNERS)}\","
                f"\"{rng.choice(PRODUCTS)}\",{qty},{price:.2f},{qty * price:.2f},EUR,{rng.choice(STATES)}\n")
        out.append(line)
        total += len(line)
    return "".join(out).encode()


def sentence(rng, lo=6, hi=18):
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def pool_html(rng, size):
    out = ["<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>Report</title></head>\n"
           "<body class=\"o_body\">\n<table class=\"table table-sm o_main_table\">\n"]
    total = 0
    while total < size:
        if rng.random() < 0.15:
            chunk = f"<p class=\"o_text\">{sentence(rng)} {sentence(rng)}</p>\n"
        else:
            chunk = (f"<tr class=\"o_line\"><td class=\"o_td_name\"><span>{rng.choice(PRODUCTS)}</span></td>"
                     f"<td class=\"o_td_partner\">{rng.choice(PARTNERS)}</td>"
                     f"<td class=\"o_td_note\">{sentence(rng, 4, 10)}</td>"
                     f"<td class=\"text-end o_td_qty\"><span>{rng.randint(1, 99)}.00</span></td>"
                     f"<td class=\"text-end o_td_amount\"><span class=\"oe_currency_value\">"
                     f"{rng.randint(1, 99999)}.{rng.randrange(100):02d}</span> €</td></tr>\n")
        out.append(chunk)
        total += len(chunk)
    return "".join(out).encode()


def pool_xml(rng, size):
    out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Invoice xmlns=\"urn:oasis:names:"
           "specification:ubl:schema:xsd:Invoice-2\" xmlns:cac=\"urn:oasis:names:specification:"
           "ubl:schema:xsd:CommonAggregateComponents-2\" xmlns:cbc=\"urn:oasis:names:"
           "specification:ubl:schema:xsd:CommonBasicComponents-2\">\n"]
    total = 0
    n = 0
    while total < size:
        n += 1
        qty = rng.randint(1, 50)
        price = rng.randint(100, 99999) / 100
        chunk = ("  <cac:InvoiceLine>\n"
                 f"    <cbc:ID>{n}</cbc:ID>\n    <cbc:Note>{sentence(rng, 6, 16)}</cbc:Note>\n"
                 f"    <cbc:InvoicedQuantity unitCode=\"C62\">{qty}.0</cbc:InvoicedQuantity>\n"
                 f"    <cbc:LineExtensionAmount currencyID=\"EUR\">{qty * price:.2f}</cbc:LineExtensionAmount>\n"
                 "    <cac:Item>\n"
                 f"      <cbc:Description>{sentence(rng, 8, 20)}</cbc:Description>\n"
                 f"      <cac:SellersItemIdentification><cbc:ID>{rng.randrange(10**12):012d}</cbc:ID>"
                 "</cac:SellersItemIdentification>\n"
                 f"      <cbc:Name>{rng.choice(PRODUCTS)}</cbc:Name>\n"
                 "      <cac:ClassifiedTaxCategory>\n"
                 f"        <cbc:ID>S</cbc:ID>\n        <cbc:Percent>{rng.choice(['21.0', '6.0', '12.0'])}</cbc:Percent>\n"
                 "        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>\n"
                 "      </cac:ClassifiedTaxCategory>\n"
                 "    </cac:Item>\n"
                 f"    <cac:Price><cbc:PriceAmount currencyID=\"EUR\">{price:.2f}</cbc:PriceAmount></cac:Price>\n"
                 "  </cac:InvoiceLine>\n")
        out.append(chunk)
        total += len(chunk)
    return "".join(out).encode()


def pool_txt(rng, size):
    out = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.2:
            chunk = (f"From: {rng.choice(PARTNERS)} <info@example.com>\nSubject: {sentence(rng, 3, 7)}\n"
                     f"Date: {2019 + rng.randrange(6)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}\n\n")
        elif kind < 0.35:
            chunk = (f"{2019 + rng.randrange(6)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d} "
                     f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d},"
                     f"{rng.randrange(1000):03d} {rng.randrange(1000, 9999)} INFO odoo.addons.base.models."
                     f"ir_cron: Job '{rng.choice(PRODUCTS)}' ({rng.randrange(1, 90)}) done\n")
        elif kind < 0.55:
            chunk = ("--\nBest regards,\nThe Accounting Team\nMy Company (San Francisco)\n"
                     "250 Executive Park Blvd, Suite 3400, San Francisco CA 94134\n"
                     "This e-mail and any attachments are confidential and intended solely for "
                     "the addressee.\n\n")
        else:
            chunk = " ".join(sentence(rng) for _ in range(rng.randint(2, 6))) + "\n\n"
        out.append(chunk)
        total += len(chunk)
    return "".join(out).encode()


POOL_SIZE = 2 * MIB
POOLS = {}


def make_pools(seed):
    for name, make in (("csv", pool_csv), ("html", pool_html), ("xml", pool_xml), ("txt", pool_txt)):
        POOLS[name] = make(random.Random(f"{seed}:pool:{name}"), POOL_SIZE)


def content(seed, spec):
    n, size, kind, _mime, _name = spec
    if kind[0] == "binary":
        magic = kind[1]
        head = magic + f"oe-bench {seed}/{n}\n".encode()
        body = hashlib.shake_128(f"{seed}:file:{n}".encode()).digest(max(0, size - len(head)))
        return (head + body)[:size]
    pool = POOLS[kind[1]]
    rng = random.Random(f"{seed}:text:{n}")
    parts = [f"oe-bench {seed}/{n}\n".encode()]
    total = len(parts[0])
    while total < size:
        length = rng.randint(4 * KIB, 32 * KIB)
        start = rng.randrange(len(pool) - length)
        parts.append(pool[start:start + length])
        total += length
    return b"".join(parts)[:size]


def write_one(args):
    directory, seed, spec = args
    data = content(seed, spec)
    sha = hashlib.sha1(data).hexdigest()
    sub = os.path.join(directory, sha[:2])
    os.makedirs(sub, exist_ok=True)
    path = os.path.join(sub, sha)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return spec[0], f"{sha[:2]}/{sha}", sha, len(data)


def plan(scale, seed):
    """The files: (n, size, kind, mimetype, name), n from 1, in a fixed order."""
    rng = random.Random(f"{seed}:plan")
    sized = []
    for _cls, count, lo, hi in CLASSES:
        k = round(count * scale)
        if scale > 0 and count < 100:
            k = max(1, k)  # a few large files at every scale
        sized += [rng.randint(lo, hi) for _ in range(k)]
    # Half of the bytes binary, half text: biggest files first, each to the kind behind.
    sized.sort(reverse=True)
    binary = text = 0
    specs = []
    for size in sized:
        if binary <= text:
            mime, ext, magic, prefixes = rng.choice(BINARY)
            kind = ("binary", magic)
            binary += size
        else:
            mime, ext, pool, prefixes = rng.choice(TEXT)
            kind = ("text", pool)
            text += size
        name = f"{rng.choice(prefixes)}{rng.randrange(1, 100000):05d}.{ext}"
        specs.append([size, kind, mime, name])
    rng.shuffle(specs)
    return [(n, size, kind, mime, name) for n, (size, kind, mime, name) in enumerate(specs, 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("list")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    started = time.monotonic()
    specs = plan(args.scale, args.seed)
    make_pools(args.seed)
    os.makedirs(args.directory, exist_ok=True)
    work = [(args.directory, args.seed, spec) for spec in specs]
    results = {}
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for n, fname, sha, size in pool.imap_unordered(write_one, work, chunksize=8):
                results[n] = (fname, sha, size)
    else:
        for item in work:
            n, fname, sha, size = write_one(item)
            results[n] = (fname, sha, size)
    names = {fname for fname, _sha, _size in results.values()}
    if len(names) != len(specs):
        sys.exit(f"gen-filestore: {len(specs) - len(names)} files have the same content")
    total = 0
    with open(args.list, "w", encoding="utf-8") as out:
        for n, _size, _kind, mime, name in specs:
            fname, sha, size = results[n]
            total += size
            out.write(f"{n}\t{fname}\t{sha}\t{size}\t{mime}\t{name}\n")
    print(f"gen-filestore: {len(specs)} files, {total / MIB:.1f} MiB in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
