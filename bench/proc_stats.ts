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
