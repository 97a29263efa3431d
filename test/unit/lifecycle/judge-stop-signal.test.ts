import { judgeStopSignal } from '../../../webapp/lifecycle/judge-stop-signal';

describe('a stop signal to the supervisor', () => {
  it('starts a graceful stop when none is under way', () => {
    expect(judgeStopSignal(undefined, 5_000)).toBe('stop');
  });

  it('is the same request within a second of the first, whichever signal it is', () => {
    expect(judgeStopSignal(5_000, 5_000)).toBe('repeat');
    expect(judgeStopSignal(5_000, 5_999)).toBe('repeat');
  });

  it('insists, and kills at once, a second or more after the first', () => {
    expect(judgeStopSignal(5_000, 6_000)).toBe('insist');
    expect(judgeStopSignal(5_000, 60_000)).toBe('insist');
  });
});
