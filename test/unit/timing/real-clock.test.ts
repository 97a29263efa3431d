import { realClock } from '../../../webapp/timing/real-clock';

describe('the real timers', () => {
  afterEach(() => jest.useRealTimers());

  it('waits out a wait longer than Node allows, never arming a timer beyond its limit', () => {
    jest.useFakeTimers({ now: Date.UTC(2026, 10, 26, 12) });
    const armed = jest.spyOn(global, 'setTimeout');
    const run = jest.fn();
    const days = 86400_000;
    realClock.setTimeout(run, 30 * days);
    jest.advanceTimersByTime(30 * days - 1);
    expect(run).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);
    for (const [, ms] of armed.mock.calls) expect(ms).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('cancels a long wait at any step', () => {
    jest.useFakeTimers();
    const run = jest.fn();
    const handle = realClock.setTimeout(run, 40 * 86400_000);
    jest.advanceTimersByTime(25 * 86400_000);
    realClock.clearTimeout(handle);
    jest.advanceTimersByTime(30 * 86400_000);
    expect(run).not.toHaveBeenCalled();
  });
});
