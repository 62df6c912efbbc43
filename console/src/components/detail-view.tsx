/**
 * The layout of the views that show events: a toolbar form over the main
 * pane, and the selected event's detail beside it.
 */
import type { ComponentChildren } from "preact";

/** What a {@link DetailView} shows. */
export interface DetailViewProps {
  /** The controls of the toolbar form. */
  readonly toolbar: ComponentChildren;
  /** The toolbar's controls may wrap onto several lines. */
  readonly wrap?: boolean;
  /** Called when the toolbar form is submitted (the browser's own submit never happens). */
  readonly onSubmit: () => void;
  /** The main pane, below the toolbar. */
  readonly children: ComponentChildren;
  /** The detail pane beside the main one, when something is selected. */
  readonly detail?: ComponentChildren;
}

export function DetailView({ toolbar, wrap = false, onSubmit, children, detail }: DetailViewProps) {
  return (
    <section class="view with-detail">
      <div class="main-pane">
        <form
          class={wrap ? "toolbar wrap" : "toolbar"}
          onSubmit={(e) => {
            e.preventDefault();
            onSubmit();
          }}
        >
          {toolbar}
        </form>
        {children}
      </div>
      {detail}
    </section>
  );
}
