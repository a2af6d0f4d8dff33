/**
 * Reads a process's CPU time and resident memory from Linux /proc.
 *
 * @module
 */

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), 100 if it cannot be read. */
export async function clockTicksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  try {
    const { stdout, success } = await new Deno.Command("getconf", {
      args: ["CLK_TCK"],
      stdout: "piped",
    })
      .output();
    const value = Number(new TextDecoder().decode(stdout).trim());
    clockTicks = success && Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    clockTicks = 100;
  }
  return clockTicks;
}

/** User plus system CPU time of `pid` (all its threads), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces:
  // fields are counted after the last ")". utime and stime are fields 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / await clockTicksPerSecond();
}

/** Resident set size (VmRSS) of `pid`, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

/** The machine: CPU model, logical CPUs, kernel. */
export async function machineInfo(): Promise<
  { cpu: string; nproc: number; kernel: string; memoryMiB: number }
> {
  let cpu = "unknown";
  let memoryMiB = NaN;
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpu;
    const meminfo = await Deno.readTextFile("/proc/meminfo");
    memoryMiB = Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1]) / 1024);
  } catch {
    // Not Linux; the figures below say so.
  }
  return { cpu, nproc: navigator.hardwareConcurrency, kernel: Deno.osRelease(), memoryMiB };
}

/**
 * CPU seconds the whole machine has spent busy, from /proc/stat: `tasks`
 * is time in processes (user, nice, system, steal), `irq` is interrupt and
 * softirq time, which the kernel charges to no process (on loopback much of
 * the TCP receive path runs there, for the bench's own traffic too).
 */
export async function machineBusySeconds(): Promise<{ tasks: number; irq: number }> {
  const stat = await Deno.readTextFile("/proc/stat");
  const fields = stat.slice(0, stat.indexOf("\n")).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, _idle = 0, _iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields;
  const ticks = await clockTicksPerSecond();
  return { tasks: (user + nice + system + steal) / ticks, irq: (irq + softirq) / ticks };
}

/**
 * Waits until the machine is quiet (less than `maxBusyCores` busy, sampled
 * over 1 s) or `timeoutSeconds` have passed. Other processes competing for
 * the CPUs would make the bench measure them too. Returns the last sample.
 */
export async function waitForQuiet(
  maxBusyCores: number,
  timeoutSeconds: number,
): Promise<{ busyCores: number; waitedSeconds: number }> {
  const started = performance.now();
  while (true) {
    const before = await machineBusySeconds();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await machineBusySeconds();
    const busyCores = Math.max(0, after.tasks + after.irq - before.tasks - before.irq);
    const waitedSeconds = (performance.now() - started) / 1000;
    if (busyCores <= maxBusyCores || waitedSeconds >= timeoutSeconds) {
      return { busyCores, waitedSeconds };
    }
  }
}
