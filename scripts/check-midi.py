#!/usr/bin/env python3
"""Reads Standard MIDI Files with nothing but Python's standard library (an independent check of
muselab's exports, which midly writes) and prints, per file, one JSON object: format, division,
tracks, and each track's name, programs, note count, and the tempo, time-signature and
key-signature events. Exit code 1 when a file is not a well-formed SMF.

    scripts/check-midi.py FILE.mid [...]
"""
import json
import struct
import sys


def varlen(data, i):
    value = 0
    while True:
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, i


def read(path):
    data = open(path, "rb").read()
    if data[:4] != b"MThd":
        raise ValueError("no MThd header")
    length, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    i = 8 + length
    tracks = []
    for _ in range(ntracks):
        if data[i : i + 4] != b"MTrk":
            raise ValueError(f"no MTrk at byte {i}")
        (size,) = struct.unpack(">I", data[i + 4 : i + 8])
        body, i = data[i + 8 : i + 8 + size], i + 8 + size
        track = {"name": None, "programs": [], "notes": 0, "tempos": [], "time_signatures": [],
                 "key_signatures": [], "ended": False}
        j, tick, status = 0, 0, None
        while j < len(body):
            delta, j = varlen(body, j)
            tick += delta
            byte = body[j]
            if byte == 0xFF:
                kind = body[j + 1]
                length, j = varlen(body, j + 2)
                payload = body[j : j + length]
                j += length
                if kind == 0x03 and track["name"] is None:
                    track["name"] = payload.decode("latin-1")
                elif kind == 0x51:
                    track["tempos"].append([tick, int.from_bytes(payload, "big")])
                elif kind == 0x58:
                    track["time_signatures"].append([tick, payload[0], 2 ** payload[1]])
                elif kind == 0x59:
                    sharps = struct.unpack("b", payload[:1])[0]
                    track["key_signatures"].append([tick, sharps, "minor" if payload[1] else "major"])
                elif kind == 0x2F:
                    track["ended"] = True
            elif byte in (0xF0, 0xF7):
                length, j = varlen(body, j + 1)
                j += length
            else:
                if byte & 0x80:
                    status, j = byte, j + 1
                if status is None:
                    raise ValueError("running status without a status byte")
                kind = status & 0xF0
                if kind == 0xC0:
                    track["programs"].append([status & 0x0F, body[j]])
                if kind == 0x90 and body[j + 1] > 0:
                    track["notes"] += 1
                j += 1 if kind in (0xC0, 0xD0) else 2
        if not track["ended"]:
            raise ValueError("a track without its end marker")
        tracks.append(track)
    return {"file": path, "format": fmt, "division": division, "tracks": tracks}


def main():
    failed = False
    for path in sys.argv[1:]:
        try:
            print(json.dumps(read(path)))
        except (ValueError, IndexError, struct.error) as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
