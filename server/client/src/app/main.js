// Phone app entry (placeholder while the app is written).
import { createApp, h } from 'vue';
createApp({ render: () => h('p', 'Doorstep') }).mount('#app');
