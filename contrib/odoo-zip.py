#!/usr/bin/env python3
"""The last steps of Odoo's database manager backup, for the benchmarks.

    contrib/odoo-zip.py DB DIR OUT.zip

DIR holding dump.sql (pg_dump --no-owner) and filestore/ (a copy of the database's
filestore), as odoo.service.db.dump_db prepares them in a temporary directory, this writes
DIR/manifest.json as dump_db_manifest does (the installed modules read with psql, through
the PG* variables), then zips DIR into OUT.zip as odoo.tools.osutil.zip_dir does: zipfile,
ZIP_DEFLATED at zlib's default level (6), allowZip64, os.walk order with each directory's
files sorted so that dump.sql comes first.
"""

import json
import os
import subprocess
import sys
import zipfile


def manifest(db):
    def query(sql):
        out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-F", "\t", "-d", db, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    version_num = int(query("SHOW server_version_num")[0][0])
    modules = dict(query("SELECT name, latest_version FROM ir_module_module "
                         "WHERE state = 'installed'"))
    base = modules.get("base", "17.0.1.3")
    major = ".".join(base.split(".")[:2])
    return {
        "odoo_dump": "1",
        "db_name": db,
        "version": major,
        "version_info": [int(p) for p in major.split(".")] + [0, "final", 0, ""],
        "major_version": major,
        "pg_version": "%d.%d" % divmod(version_num / 100, 100),
        "modules": modules,
    }


def zip_dir(path, out):
    path = os.path.normpath(path)
    prefix = len(path) + 1
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6,
                         allowZip64=True) as zipf:
        for dirpath, _dirnames, filenames in os.walk(path):
            for fname in sorted(filenames, key=lambda name: name != "dump.sql"):
                full = os.path.normpath(os.path.join(dirpath, fname))
                if os.path.isfile(full):
                    zipf.write(full, full[prefix:])


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    db, directory, out = sys.argv[1:]
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest(db), fh, indent=4)
    zip_dir(directory, out)


if __name__ == "__main__":
    main()
