/**
 * The Ink components of the full-screen client: thin on purpose. They place
 * the rows a {@linkcode TuiView} already laid out (pane widths, wrapping,
 * sanitizing and colours are decided in pure code) and put the cursor where
 * the view says.
 *
 * @module
 */
import { PassThrough } from "node:stream";
import { Box, render, Text, useCursor } from "ink";
import { type Line, renderLine } from "./styled_line.ts";
import type { TuiView } from "./tui_view.ts";

function Rows(props: { rows: readonly Line[]; width: number }) {
  return (
    <Box flexDirection="column" width={props.width} flexShrink={0}>
      {props.rows.map((row, index) => <Text key={index} wrap="truncate">{renderLine(row)}</Text>)}
    </Box>
  );
}

function Border(props: { height: number; dim: boolean }) {
  const rows = Array.from({ length: props.height }, () => "│");
  return (
    <Box flexDirection="column" width={1} flexShrink={0}>
      {rows.map((bar, index) => <Text key={index} dimColor={props.dim}>{bar}</Text>)}
    </Box>
  );
}

/**
 * The whole screen for one frame.
 *
 * @example
 * ```tsx ignore
 * import { TuiScreen } from "./tui_app.tsx";
 * <TuiScreen view={view} dim />;
 * ```
 */
export function TuiScreen(props: { view: TuiView; dim: boolean }) {
  const { view } = props;
  const { layout } = view;
  const { setCursorPosition } = useCursor();
  setCursorPosition(view.cursor);
  return (
    <Box flexDirection="column" width={layout.columns} height={layout.rows}>
      <Text wrap="truncate">{renderLine(view.title)}</Text>
      <Box flexDirection="row" height={layout.bodyHeight}>
        {layout.leftWidth > 0 && <Rows rows={view.left} width={layout.leftWidth} />}
        {layout.leftWidth > 0 && <Border height={layout.bodyHeight} dim={props.dim} />}
        <Rows rows={view.main} width={layout.mainWidth} />
        {layout.rightWidth > 0 && <Border height={layout.bodyHeight} dim={props.dim} />}
        {layout.rightWidth > 0 && <Rows rows={view.right} width={layout.rightWidth} />}
      </Box>
      <Text wrap="truncate">{renderLine(view.status)}</Text>
      <Rows rows={view.input} width={layout.columns} />
    </Box>
  );
}

/** A mounted screen: give it new frames, then unmount it. */
export interface MountedScreen {
  /** Draws `view` (Ink coalesces frames that come faster than it draws). */
  update(view: TuiView): void;
  /** Forgets what is on screen, so the next frame is drawn in full (Ctrl+L, resize). */
  clear(): void;
  /** Leaves the alternate screen and shows the cursor again. */
  unmount(): Promise<void>;
}

/**
 * Mounts the screen on `stdout` in the alternate screen buffer. Input is
 * read elsewhere, so Ink gets a stream that never yields anything.
 *
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { mountScreen } from "./tui_app.tsx";
 * const screen = mountScreen(view, { stdout: process.stdout, dim: true });
 * screen.update(nextView);
 * await screen.unmount();
 * ```
 */
export function mountScreen(
  view: TuiView,
  options: { stdout: NodeJS.WriteStream; dim: boolean },
): MountedScreen {
  const instance = render(<TuiScreen view={view} dim={options.dim} />, {
    stdout: options.stdout,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    // Ink turns live drawing off under CI=true; this program is interactive whatever CI says.
    interactive: true,
    alternateScreen: true,
    incrementalRendering: true,
    exitOnCtrlC: false,
    patchConsole: false,
    kittyKeyboard: { mode: "disabled" },
    maxFps: 60,
  });
  let unmounted = false;
  return {
    update(next) {
      if (!unmounted) instance.rerender(<TuiScreen view={next} dim={options.dim} />);
    },
    clear() {
      if (!unmounted) instance.clear();
    },
    async unmount() {
      if (unmounted) return;
      unmounted = true;
      instance.unmount();
      await instance.waitUntilExit().catch(() => {});
    },
  };
}
