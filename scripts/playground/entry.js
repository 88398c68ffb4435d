// The bundle's entry: the whole livekit-client API as one ES module (built by scripts/install-playground.sh).
export * from "livekit-client";
