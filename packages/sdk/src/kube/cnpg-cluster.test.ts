import { describe, expect, it } from 'vitest';
import { runningImage } from './cnpg-cluster.js';

describe('runningImage', () => {
  it("the image that last ran on the data, only when it runs the copy's major; older Clusters' fields as fallbacks", () => {
    const upgraded = { status: { image: 'pg:16', pgDataImageInfo: { image: 'pg:16', majorVersion: 16 } }, spec: { imageName: 'pg:16' } };
    expect(runningImage(upgraded, 16)).toBe('pg:16');
    expect(runningImage(upgraded, 15), 'upgraded since the backup: its image cannot start the copy').toBeUndefined();
    expect(runningImage(upgraded)).toBe('pg:16');
    expect(runningImage({ status: { image: 'pg:15.4' }, spec: { imageName: 'pg:15' } }, 15)).toBe('pg:15.4');
    expect(runningImage({ spec: { imageName: 'pg:15' } }, 15)).toBe('pg:15');
    expect(runningImage({}, 15)).toBeUndefined();
  });
});
