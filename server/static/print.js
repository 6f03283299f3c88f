// Buttons marked data-print print the page (the Content-Security-Policy allows no inline onclick).
document.addEventListener('DOMContentLoaded', () => {
  for (const button of document.querySelectorAll('[data-print]')) {
    button.addEventListener('click', () => window.print());
  }
});
