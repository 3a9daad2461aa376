"""A Modbus device served by pymodbus, an implementation nobody on this project wrote, for
kilowatch's interoperability tests.

usage: device.py SPEC.json

SPEC = {
  "transport": "tcp" | "rtu" | "rtu_over_tcp",
  "port": 5020,                      # tcp: loopback port
  "device": "/dev/pts/7",            # rtu: serial device (one end of a socat pty pair)
  "baud": 9600, "parity": "N", "stop_bits": 1,
  "units": [{"id": 1,
             "hr": {"100": [17254, 32768]},   # start address -> consecutive register words
             "ir": {"0": [1, 2]},
             "co": {"0": [1, 0, 1]}, "di": {}}],
  "log": "requests.log"              # one line per request: "<unit> <function code> <address>"
}
Addresses that no block defines are unmapped: reading them gets exception 2
(IllegalDataAddress), as on a real meter. Units not listed never answer.
"""

import asyncio
import json
import sys

from pymodbus import FramerType
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import DataType, SimData, SimDevice, simcore


def _get_device(self, device_id):
    # pymodbus 3.16's simulator answers an unknown unit id as if it were unit 0 (and, with no
    # unit 0, with exception 4). A device that is not on an RS-485 line stays silent: raise the
    # error that `ignore_missing_devices` turns into silence.
    if device_id not in self.devices:
        raise NoSuchIdException(f"no unit {device_id}")
    return self.devices[device_id]


simcore.SimCore._SimCore__get_device = _get_device  # pylint: disable=protected-access


def blocks(spec, key, bits=False):
    out = []
    for start, values in sorted(spec.get(key, {}).items(), key=lambda kv: int(kv[0])):
        if bits:
            out.append(SimData(int(start), values=[bool(v) for v in values], datatype=DataType.BITS))
        else:
            out.append(SimData(int(start), values=list(values), datatype=DataType.REGISTERS))
    # pymodbus wants every table non-empty: park one value far from anything a test reads.
    if not out:
        out = [SimData(65000, values=[False] if bits else [0], datatype=DataType.BITS if bits else DataType.REGISTERS)]
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    devices = [
        SimDevice(
            u["id"],
            simdata=(
                blocks(u, "co", bits=True),
                blocks(u, "di", bits=True),
                blocks(u, "hr"),
                blocks(u, "ir"),
            ),
        )
        for u in spec["units"]
    ]
    log = open(spec["log"], "a", encoding="utf-8", buffering=1) if spec.get("log") else None

    def trace_pdu(sending, pdu):
        if log and not sending:
            log.write(f"{pdu.dev_id} {pdu.function_code} {getattr(pdu, 'address', '')}\n")
        return pdu

    if spec["transport"] in ("tcp", "rtu_over_tcp"):
        # rtu_over_tcp: RTU frames (with CRC) on a TCP socket, like a serial device server.
        framer = FramerType.RTU if spec["transport"] == "rtu_over_tcp" else FramerType.SOCKET
        coro = StartAsyncTcpServer(
            devices, address=("127.0.0.1", spec["port"]), framer=framer, trace_pdu=trace_pdu,
            ignore_missing_devices=True,
        )
    else:
        coro = StartAsyncSerialServer(
            devices,
            port=spec["device"],
            baudrate=spec.get("baud", 9600),
            parity=spec.get("parity", "N"),
            stopbits=spec.get("stop_bits", 1),
            trace_pdu=trace_pdu,
            ignore_missing_devices=True,
        )
    print("ready", flush=True)
    asyncio.run(coro)


if __name__ == "__main__":
    main()
