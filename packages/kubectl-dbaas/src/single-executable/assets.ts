/**
 * The single executable's SEA asset that holds the SDK bundle (dist/sea/sdk.cjs): written by the
 * release build (scripts/release/sea.ts), read by the executable (sdk-from-asset.cts).
 */
export const SDK_ASSET = 'sdk.cjs';
