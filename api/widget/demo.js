// The demo page's sample questions ask through the widget's JS API (a file, not inline: the page's CSP).
document.querySelectorAll("[data-question]").forEach((button) => {
  button.addEventListener("click", () => {
    if (window.RagqaWidget) window.RagqaWidget.ask(button.dataset.question);
  });
});
