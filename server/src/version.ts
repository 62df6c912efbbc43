/** The protobus server version, reported by GetBusInfo and `--version`. */
export const VERSION = "0.1.0";
