// The V8 CPU profiler on the calling thread, for a benchmark to profile a window of its own run
// (write the returned profile as a .cpuprofile: Chrome DevTools and speedscope read it).
import { Session } from 'node:inspector';

/** Starts the profiler (`intervalUs` > 0: finer samples than V8's 1 ms default); the function returned stops it and gives the profile. */
export async function startProfile(intervalUs = 0): Promise<() => Promise<object>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<object>((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r as object))));
  await post('Profiler.enable');
  if (intervalUs > 0) await post('Profiler.setSamplingInterval', { interval: intervalUs });
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    session.disconnect();
    return profile;
  };
}
